{#- One top-level key of a JSON document held as text, as text (null when absent). -#}
{% macro json_text_field(json_text_expr, key) -%}
    {{ return(adapter.dispatch('json_text_field', 'trellis')(json_text_expr, key)) }}
{%- endmacro %}

{% macro default__json_text_field(json_text_expr, key) -%}
    {{ exceptions.raise_compiler_error('json_text_field: no implementation for ' ~ adapter.type()) }}
{%- endmacro %}

{% macro duckdb__json_text_field(json_text_expr, key) -%}
    json_extract_string({{ json_text_expr }}, '$."{{ key }}"')
{%- endmacro %}

{% macro postgres__json_text_field(json_text_expr, key) -%}
    (cast({{ json_text_expr }} as jsonb) ->> '{{ key }}')
{%- endmacro %}
