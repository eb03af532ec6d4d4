{#- A from-clause item that expands a JSON array into rows (value, 0-based index).
    Use after a comma-free join: `from t {{ json_array_elements('t.j', 'e', 'v', 'i') }}`. -#}
{% macro json_array_elements(json_array_expr, alias, value_column, index_column) -%}
    {{ return(adapter.dispatch('json_array_elements', 'trellis')(json_array_expr, alias, value_column, index_column)) }}
{%- endmacro %}

{% macro default__json_array_elements(json_array_expr, alias, value_column, index_column) -%}
    cross join lateral (
        select
            elements.value as {{ value_column }},
            elements.ordinality - 1 as {{ index_column }}
        from jsonb_array_elements({{ json_array_expr }}) with ordinality as elements (value, ordinality)
    ) as {{ alias }}
{%- endmacro %}

{% macro duckdb__json_array_elements(json_array_expr, alias, value_column, index_column) -%}
    cross join lateral (
        select
            elements.value as {{ value_column }},
            cast(elements.key as integer) as {{ index_column }}
        from json_each({{ json_array_expr }}) as elements
    ) as {{ alias }}
{%- endmacro %}
