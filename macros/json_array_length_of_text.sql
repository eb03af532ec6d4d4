{#- Length of a JSON array held as text; null when null or not an array. -#}
{% macro json_array_length_of_text(json_text_expr) -%}
    {{ return(adapter.dispatch('json_array_length_of_text', 'trellis')(json_text_expr)) }}
{%- endmacro %}

{% macro postgres__json_array_length_of_text(json_text_expr) -%}
    {{ trellis.json_array_length('cast(' ~ json_text_expr ~ ' as jsonb)') }}
{%- endmacro %}

{% macro duckdb__json_array_length_of_text(json_text_expr) -%}
    {{ trellis.json_array_length('cast(' ~ json_text_expr ~ ' as json)') }}
{%- endmacro %}

{% macro default__json_array_length_of_text(json_text_expr) -%}
    {{ trellis.unsupported_adapter('json_array_length_of_text') }}
{%- endmacro %}
