{#- Aggregate: a JSON array of the values in the given order (a real JSON
    value, not text that looks like one). -#}
{% macro json_array_agg(value_expr, order_by_expr) -%}
    {{ return(adapter.dispatch('json_array_agg', 'trellis')(value_expr, order_by_expr)) }}
{%- endmacro %}

{% macro duckdb__json_array_agg(value_expr, order_by_expr) -%}
    to_json(list({{ value_expr }} order by {{ order_by_expr }}))
{%- endmacro %}

{% macro postgres__json_array_agg(value_expr, order_by_expr) -%}
    json_agg({{ value_expr }} order by {{ order_by_expr }})
{%- endmacro %}

{% macro default__json_array_agg(value_expr, order_by_expr) -%}
    {{ trellis.unsupported_adapter('json_array_agg') }}
{%- endmacro %}
