{#- The export salt of this session as a text expression ('' when unset). It
    never enters the SQL text: profiles.yml hands DBT_ENV_SECRET_TRELLIS_EXPORT_SALT
    to each session (a DuckDB variable set by the trellis.dbt.export_salt
    plugin; the PostgreSQL setting trellis.export_salt passed as a libpq
    startup option), so target/ and the logs never hold it. -#}
{% macro export_salt() -%}
    {{ return(adapter.dispatch('export_salt', 'trellis')()) }}
{%- endmacro %}

{% macro duckdb__export_salt() -%}
    coalesce(getvariable('trellis_export_salt'), '')
{%- endmacro %}

{% macro postgres__export_salt() -%}
    coalesce(current_setting('trellis.export_salt', true), '')
{%- endmacro %}

{% macro default__export_salt() -%}
    {{ trellis.unsupported_adapter('export_salt') }}
{%- endmacro %}
