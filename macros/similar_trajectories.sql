{#- "Trajectories like this one": a query of the `limit` trajectories whose
    `view` vector (of `embedder`, a name@version; default the newest of var
    evaluation_embedder) is most cosine-similar to the given trajectory's, in
    the same tenant unless across_tenants. DuckDB only (the evaluation chain
    runs there). Use it in an analysis or `dbt show --inline`. -#}
{% macro similar_trajectories(trajectory_id, view='task', embedder=none, limit=10, across_tenants=false, dim=256) -%}
    {{ return(adapter.dispatch('similar_trajectories', 'trellis')(trajectory_id, view, embedder, limit, across_tenants, dim)) }}
{%- endmacro %}

{% macro default__similar_trajectories(trajectory_id, view, embedder, limit, across_tenants, dim) -%}
    {{ exceptions.raise_compiler_error("similar_trajectories runs on DuckDB targets (duckdb, workbench) only: trajectory_embeddings is built there") }}
{%- endmacro %}

{% macro duckdb__similar_trajectories(trajectory_id, view, embedder, limit, across_tenants, dim) -%}
    with

    embeddings as (
        select * from {{ ref('trajectory_embeddings') }}
        where view = '{{ view }}'
        {%- if embedder is not none %}
            and embedder = '{{ embedder }}'
        {%- else %}
            and embedder = (
                select embedder from {{ ref('trajectory_embeddings') }}
                where split_part(embedder, '@', 1) = '{{ var("evaluation_embedder") }}'
                group by embedder order by max(embedded_at) desc limit 1
            )
        {%- endif %}
    ),

    probe as (
        select * from embeddings where trajectory_id = '{{ trajectory_id }}'
    ),

    ranked as (
        select
            embeddings.trajectory_id,
            embeddings.tenant_id,
            array_cosine_similarity(
                cast(embeddings.embedding as float[{{ dim }}]), cast(probe.embedding as float[{{ dim }}])
            ) as similarity
        from embeddings
        inner join probe
            on embeddings.trajectory_id <> probe.trajectory_id
            {%- if not across_tenants %} and embeddings.tenant_id = probe.tenant_id{% endif %}
    )

    select * from ranked
    qualify row_number() over (order by similarity desc, trajectory_id) <= {{ limit }}
    order by similarity desc, trajectory_id
{%- endmacro %}
