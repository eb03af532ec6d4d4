{#- JSON sub-document at a path, still of the target's JSON type. -#}
{% macro json_value(json_expr, path) -%}
    {{ return(adapter.dispatch('json_value', 'trellis')(json_expr, path)) }}
{%- endmacro %}

{% macro default__json_value(json_expr, path) -%}
    ({{ json_expr }} #> '{{ trellis.pg_json_path(path) }}')
{%- endmacro %}

{% macro duckdb__json_value(json_expr, path) -%}
    json_extract({{ json_expr }}, '{{ trellis.duckdb_json_path(path) }}')
{%- endmacro %}
