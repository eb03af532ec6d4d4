-- One row per message of a request: its context messages (0..n-1) and its
-- reply (index n, is_reply). message_key is the md5 of the canonical form
-- (contract section 3), the unit of content lineage.
with

source as (
    select * from {{ source('gateway', 'requests') }}
),

context_messages as (
    select
        source.request_id,
        source.tenant_id,
        messages.message_index,
        false as is_reply,
        messages.message ->> 'role' as message_role,
        md5({{ trellis.message_canonical_text('messages.message') }}) as message_key,
        source.ingested_at
    from source
    {{ trellis.json_array_elements(trellis.json_value('source.record', ['request', 'messages']), 'messages', 'message', 'message_index') }}
),

replies as (
    select
        source.request_id,
        source.tenant_id,
        {{ trellis.json_array_length(trellis.json_value('source.record', ['request', 'messages'])) }} as message_index,
        true as is_reply,
        reply.message ->> 'role' as message_role,
        md5({{ trellis.message_canonical_text('reply.message') }}) as message_key,
        source.ingested_at
    from source
    cross join lateral (
        select {{ trellis.json_value('source.record', ['response', 'choices', 0, 'message']) }} as message
    ) as reply
    where reply.message is not null
),

unioned as (
    select * from context_messages
    union all
    select * from replies
)

select * from unioned
