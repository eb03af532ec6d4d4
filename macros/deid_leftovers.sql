{#- Every leftover detector match in a text column: one row per match with its
    detector_type and value. The detectors come from the seed deid_detectors
    (read at run time, one alternation in priority order, leftmost-first like
    trellis.datasets.deid), so Python and SQL share one list. A match counts
    only when it passes its validator (deid_match_is_valid). Non-text columns
    (JSON, lists of messages) are cast to text. DuckDB only. -#}
{% macro deid_leftovers(relation, column_name, detectors_relation) -%}
    {{ return(adapter.dispatch('deid_leftovers', 'trellis')(relation, column_name, detectors_relation)) }}
{%- endmacro %}

{% macro default__deid_leftovers(relation, column_name, detectors_relation) -%}
    {#- raised when run, not when parsed: models disabled on this target are still parsed -#}
    {%- if execute %}{{ exceptions.raise_compiler_error(
        "deid_leftovers is implemented for DuckDB only (datasets build on the DuckDB workbench), not for " ~ adapter.type()
    ) }}{% endif -%}
{%- endmacro %}

{% macro duckdb__deid_leftovers(relation, column_name, detectors_relation) -%}
    {%- set detectors = [] -%}
    {#- compiled before the seed is built (dbt docs generate, dbt compile): the
        query below then reads the seed itself, so running it still needs it -#}
    {%- if execute and load_relation(detectors_relation) is not none -%}
        {%- set result = run_query(
            "select detector_type, pattern, validator from " ~ detectors_relation ~ " order by priority"
        ) -%}
        {%- set detectors = result.rows -%}
    {%- endif -%}
    {%- if detectors | length == 0 -%}
    select detector_type, cast(null as varchar) as leftover_value
    from {{ detectors_relation }}
    where false
    {%- else -%}
    {%- set alternation = [] -%}
    {%- for row in detectors -%}{%- do alternation.append('(?:' ~ row[1] ~ ')') -%}{%- endfor -%}
    with scanned as (
        select unnest(regexp_extract_all(
            cast({{ column_name }} as varchar), '{{ alternation | join("|") | replace("'", "''") }}'
        )) as leftover_value
        from {{ relation }}
    ),

    typed as (
        select
            leftover_value,
            case
            {%- for row in detectors %}
                when regexp_full_match(leftover_value, '{{ row[1] | replace("'", "''") }}') then '{{ row[0] }}'
            {%- endfor %}
            end as detector_type,
            case
            {%- for row in detectors %}
                when regexp_full_match(leftover_value, '{{ row[1] | replace("'", "''") }}') then '{{ row[2] }}'
            {%- endfor %}
            end as validator
        from scanned
    )

    select detector_type, leftover_value
    from typed
    where {{ trellis.deid_match_is_valid('validator', 'leftover_value') }}
    {%- endif -%}
{%- endmacro %}
