{#- Continuous (linearly interpolated) percentile of a column, as an aggregate:
    the definition numpy.percentile uses by default (method='linear'). Nulls ignored. -#}
{% macro percentile_cont(column_expr, fraction) -%}
    {{ return(adapter.dispatch('percentile_cont', 'trellis')(column_expr, fraction)) }}
{%- endmacro %}

{% macro postgres__percentile_cont(column_expr, fraction) -%}
    percentile_cont({{ fraction }}) within group (order by {{ column_expr }})
{%- endmacro %}

{% macro duckdb__percentile_cont(column_expr, fraction) -%}
    quantile_cont({{ column_expr }}, {{ fraction }})
{%- endmacro %}

{% macro default__percentile_cont(column_expr, fraction) -%}
    {{ trellis.unsupported_adapter('percentile_cont') }}
{%- endmacro %}
