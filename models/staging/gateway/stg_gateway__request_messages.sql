-- One row per request x message: the messages of the request's context in
-- order, then its reply (is_reply), each as plain text: the content's text,
-- then one line `name(arguments)` per tool call. The evaluation models embed
-- these texts. A view: readers take the requests they need (the leaves of new
-- trajectories), so no text is copied. DuckDB targets only (dbt_project.yml).
with

source as (
    select * from {{ source('gateway', 'requests') }}
),

parsed as (
    select
        request_id,
        tenant_id,
        {{ trellis.request_context_parse('record') }}
    from source
),

context_messages as (
    select
        parsed.request_id,
        parsed.tenant_id,
        generate_subscripts(parsed._ctx.request.messages, 1) - 1 as message_index,
        unnest(parsed._ctx.request.messages) as message,
        false as is_reply
    from parsed
),

replies as (
    select
        parsed.request_id,
        parsed.tenant_id,
        coalesce(len(parsed._ctx.request.messages), 0) as message_index,
        parsed._ctx.response.choices[1].message as message,
        true as is_reply
    from parsed
    where parsed._ctx.response.choices[1].message.role is not null
),

messages as (
    select * from context_messages
    union all
    select * from replies
),

fields as (
    select
        messages.request_id,
        messages.tenant_id,
        messages.message_index,
        struct_extract(messages.message, 'role') as message_role,
        struct_extract(messages.message, 'content') as content,
        struct_extract(messages.message, 'tool_calls') as tool_calls,
        messages.is_reply
    from messages
),

rendered as (
    select
        fields.request_id,
        fields.tenant_id,
        fields.message_index,
        coalesce(fields.message_role, 'unknown') as message_role,
        concat_ws(
            chr(10),
            nullif({{ trellis.json_content_text('fields.content') }}, ''),
            nullif(array_to_string(list_transform(
                fields.tool_calls,
                lambda call: coalesce(call.function.name, '') || '('
                || coalesce(call.function.arguments ->> '$', '') || ')'
            ), chr(10)), '')
        ) as message_text,
        fields.is_reply
    from fields
)

select * from rendered
