{#- Serialize a JSON value to text (for text columns of public marts). -#}
{% macro json_to_text(json_expr) -%}
    {{ return(adapter.dispatch('json_to_text', 'trellis')(json_expr)) }}
{%- endmacro %}

{% macro default__json_to_text(json_expr) -%}
    ({{ json_expr }})::text
{%- endmacro %}

{% macro duckdb__json_to_text(json_expr) -%}
    cast({{ json_expr }} as varchar)
{%- endmacro %}
