{#- Array of md5 keys of the canonical messages of a request's context, in order
    (contract section 3): role, content text, name, each tool call's id,
    function name and arguments string, tool_call_id; nothing else. Both
    targets build byte-identical canonical text, so the keys agree. -#}
{% macro request_context_message_keys(alias='_ctx') -%}
    {{ return(adapter.dispatch('request_context_message_keys', 'trellis')(alias)) }}
{%- endmacro %}

{% macro postgres__request_context_message_keys(alias='_ctx') -%}
    array(
        select md5({{ trellis.pg_canonical_message('messages.message') }})
        from jsonb_array_elements({{ alias }} #> '{request,messages}') with ordinality as messages (message, ordinality)
        order by messages.ordinality
    )
{%- endmacro %}

{% macro duckdb__request_context_message_keys(alias='_ctx') -%}
    list_transform({{ alias }}.request.messages, lambda message: md5({{ trellis.duckdb_canonical_message('message') }}))
{%- endmacro %}

{% macro default__request_context_message_keys(alias='_ctx') -%}
    {{ trellis.unsupported_adapter('request_context_message_keys') }}
{%- endmacro %}
