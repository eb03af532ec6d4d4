{#- Milliseconds from one timestamp to another, as double precision. -#}
{% macro milliseconds_between(start_expr, end_expr) -%}
    {{ return(adapter.dispatch('milliseconds_between', 'trellis')(start_expr, end_expr)) }}
{%- endmacro %}

{% macro postgres__milliseconds_between(start_expr, end_expr) -%}
    (extract(epoch from ({{ end_expr }} - {{ start_expr }})) * 1000.0)
{%- endmacro %}

{% macro duckdb__milliseconds_between(start_expr, end_expr) -%}
    cast(date_diff('microsecond', {{ start_expr }}, {{ end_expr }}) as double) / 1000.0
{%- endmacro %}

{% macro default__milliseconds_between(start_expr, end_expr) -%}
    {{ trellis.unsupported_adapter('milliseconds_between') }}
{%- endmacro %}
