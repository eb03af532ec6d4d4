{#- Length of a JSON array; null when the value is absent or not an array. -#}
{% macro json_array_length(json_expr) -%}
    {{ return(adapter.dispatch('json_array_length', 'trellis')(json_expr)) }}
{%- endmacro %}

{% macro postgres__json_array_length(json_expr) -%}
    (case when jsonb_typeof({{ json_expr }}) = 'array' then jsonb_array_length({{ json_expr }}) end)
{%- endmacro %}

{% macro duckdb__json_array_length(json_expr) -%}
    (case when json_type({{ json_expr }}) = 'ARRAY' then cast(json_array_length({{ json_expr }}) as integer) end)
{%- endmacro %}

{% macro default__json_array_length(json_expr) -%}
    {{ trellis.unsupported_adapter('json_array_length') }}
{%- endmacro %}
