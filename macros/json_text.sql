{#- Text value at a JSON path (list of keys and array indexes); null for JSON null. -#}
{% macro json_text(json_expr, path) -%}
    {{ return(adapter.dispatch('json_text', 'trellis')(json_expr, path)) }}
{%- endmacro %}

{% macro default__json_text(json_expr, path) -%}
    ({{ json_expr }} #>> '{{ trellis.pg_json_path(path) }}')
{%- endmacro %}

{% macro duckdb__json_text(json_expr, path) -%}
    json_extract_string({{ json_expr }}, '{{ trellis.duckdb_json_path(path) }}')
{%- endmacro %}
