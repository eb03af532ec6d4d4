{% test contiguous_index(model, column_name, partition_by, where_clause=none) %}
    {#- Fails on every group whose index values are not exactly 0..n-1. -#}
    select
        {{ partition_by }} as partition_value,
        count(*) as row_count,
        count(distinct {{ column_name }}) as distinct_values,
        min({{ column_name }}) as min_value,
        max({{ column_name }}) as max_value
    from {{ model }}
    {% if where_clause %}where {{ where_clause }}{% endif %}
    group by {{ partition_by }}
    having
        min({{ column_name }}) != 0
        or max({{ column_name }}) != count(*) - 1
        or count(distinct {{ column_name }}) != count(*)
{% endtest %}
