{#- Project-wide pre-hook: session settings for building models. Dispatched.
    PostgreSQL: JIT off, since CTEs that a model reads twice are materialized
    and lose their row estimates, so the planner sees costs of 1e12 and spends
    seconds compiling expressions for queries that then run in less; and a
    work_mem (var postgres_work_mem) large enough that the sorts and hashes of
    the lineage models stay in memory. DuckDB: nothing (profiles.yml sets
    memory_limit and threads). -#}
{% macro session_settings() -%}
    {{ return(adapter.dispatch('session_settings', 'trellis')()) }}
{%- endmacro %}

{% macro duckdb__session_settings() -%}
{%- endmacro %}

{% macro postgres__session_settings() -%}
    set jit = off;
    set work_mem = '{{ var("postgres_work_mem") }}';
{%- endmacro %}

{% macro default__session_settings() -%}
    {{ trellis.unsupported_adapter('session_settings') }}
{%- endmacro %}
