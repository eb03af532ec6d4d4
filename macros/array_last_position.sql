{#- 1-based position of the last element equal to value; null when absent. -#}
{% macro array_last_position(array_expr, value) -%}
    {{ return(adapter.dispatch('array_last_position', 'trellis')(array_expr, value)) }}
{%- endmacro %}

{% macro postgres__array_last_position(array_expr, value) -%}
    (select max(elements.ordinality) from unnest({{ array_expr }}) with ordinality as elements (element, ordinality)
        where elements.element = {{ value }})
{%- endmacro %}

{% macro duckdb__array_last_position(array_expr, value) -%}
    (case
        when list_position(list_reverse({{ array_expr }}), {{ value }}) is not null
            then len({{ array_expr }}) + 1 - list_position(list_reverse({{ array_expr }}), {{ value }})
    end)
{%- endmacro %}

{% macro default__array_last_position(array_expr, value) -%}
    {{ trellis.unsupported_adapter('array_last_position') }}
{%- endmacro %}
