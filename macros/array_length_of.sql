{#- Number of elements of an array. -#}
{% macro array_length_of(array_expr) -%}
    {{ return(adapter.dispatch('array_length_of', 'trellis')(array_expr)) }}
{%- endmacro %}

{% macro postgres__array_length_of(array_expr) -%}
    coalesce(cardinality({{ array_expr }}), 0)
{%- endmacro %}

{% macro duckdb__array_length_of(array_expr) -%}
    coalesce(cast(len({{ array_expr }}) as integer), 0)
{%- endmacro %}

{% macro default__array_length_of(array_expr) -%}
    {{ trellis.unsupported_adapter('array_length_of') }}
{%- endmacro %}
