{% test non_negative(model, column_name) %}
    {#- Fails on every row whose value is below zero (nulls pass). -#}
    select {{ column_name }} as failing_value
    from {{ model }}
    where {{ column_name }} < 0
{% endtest %}
