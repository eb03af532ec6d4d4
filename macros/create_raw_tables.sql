{#- SQL creating the raw tables if missing (raw_tables_ddl), for on-run-start: any
    `dbt build` works on an empty warehouse. Dispatched for the JSON column type. -#}
{% macro create_raw_tables() -%}
    {{ return(adapter.dispatch('create_raw_tables', 'trellis')()) }}
{%- endmacro %}

{% macro default__create_raw_tables() -%}
    {{ exceptions.raise_compiler_error("create_raw_tables: no implementation for adapter " ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__create_raw_tables() -%}
    {#- zstd: DuckDB picks it by itself only for strings of 4 KB or more on average -#}
    {{ trellis.raw_tables_ddl(var('trellis_raw_schema'), 'json using compression zstd') }}
{%- endmacro %}

{% macro postgres__create_raw_tables() -%}
    {{ trellis.raw_tables_ddl(var('trellis_raw_schema'), 'jsonb') }}
{%- endmacro %}
