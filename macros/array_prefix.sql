{#- The first n elements of an array (1-based, n >= 1). -#}
{% macro array_prefix(array_expr, n) -%}
    {{ return(adapter.dispatch('array_prefix', 'trellis')(array_expr, n)) }}
{%- endmacro %}

{% macro postgres__array_prefix(array_expr, n) -%}
    ({{ array_expr }})[1:{{ n }}]
{%- endmacro %}

{% macro duckdb__array_prefix(array_expr, n) -%}
    list_slice({{ array_expr }}, 1, {{ n }})
{%- endmacro %}

{% macro default__array_prefix(array_expr, n) -%}
    {{ trellis.unsupported_adapter('array_prefix') }}
{%- endmacro %}
