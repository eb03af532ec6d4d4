{% test row_exists(model, where_clause) %}
    {#- Fails (one row) when no row of the model satisfies the condition. -#}
    select 1 as missing_row
    where not exists (
        select 1 from {{ model }} where {{ where_clause }}
    )
{% endtest %}
