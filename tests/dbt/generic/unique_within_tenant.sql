{% test unique_within_tenant(model, column_name, tenant_column='tenant_id') %}
    {#- Fails on every value that occurs more than once within one tenant: request
        and node ids are unique per tenant, two tenants may use the same one. -#}
    select
        {{ tenant_column }} as tenant_value,
        {{ column_name }} as duplicated_value,
        count(*) as occurrences
    from {{ model }}
    where {{ column_name }} is not null
    group by {{ tenant_column }}, {{ column_name }}
    having count(*) > 1
{% endtest %}
