{#- Array of the roles of a request's context messages, in order. -#}
{% macro request_context_message_roles(alias='_ctx') -%}
    {{ return(adapter.dispatch('request_context_message_roles', 'trellis')(alias)) }}
{%- endmacro %}

{% macro postgres__request_context_message_roles(alias='_ctx') -%}
    array(
        select coalesce(messages.message ->> 'role', '')
        from jsonb_array_elements({{ alias }} #> '{request,messages}') with ordinality as messages (message, ordinality)
        order by messages.ordinality
    )
{%- endmacro %}

{% macro duckdb__request_context_message_roles(alias='_ctx') -%}
    list_transform({{ alias }}.request.messages, lambda message: coalesce(message.role, ''))
{%- endmacro %}

{% macro default__request_context_message_roles(alias='_ctx') -%}
    {{ trellis.unsupported_adapter('request_context_message_roles') }}
{%- endmacro %}
