{{
    config(
        materialized='incremental',
        unique_key='request_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- One row per request: the content keys that content lineage joins on.
--   context_key        md5 of the canonical messages the request was sent
--   exchange_key       md5 of those messages followed by its reply
--   parent_prefix_key  md5 of its messages up to and including the last
--                      assistant message (null when there is none)
-- A request P is the content parent of N when P.exchange_key = N.parent_prefix_key
-- (contract section 3): P's context equals N's messages before the last
-- assistant turn j, and P's reply equals message j. Each key hashes a
-- sequence of fixed-width message hashes, so equal keys mean equal sequences.

with

messages as (
    select * from {{ ref('stg_gateway__request_messages') }}
    {% if is_incremental() %}
        where ingested_at > (select max(this.ingested_at) from {{ this }} as this)
    {% endif %}
),

bounds as (
    select
        request_id,
        max(case when message_role = 'assistant' and not is_reply then message_index end) as last_assistant_index,
        max(case when is_reply then 1 else 0 end) = 1 as has_reply,
        max(ingested_at) as ingested_at
    from messages
    group by request_id
),

keyed as (
    select
        messages.request_id,
        md5(string_agg(messages.message_key, '' order by messages.message_index) filter (where not messages.is_reply))
            as context_key,
        case
            when bounds.has_reply
                then md5(string_agg(messages.message_key, '' order by messages.message_index))
        end as exchange_key,
        md5(
            string_agg(messages.message_key, '' order by messages.message_index)
                filter (where messages.message_index <= bounds.last_assistant_index)
        ) as parent_prefix_key,
        bounds.last_assistant_index,
        bounds.ingested_at
    from messages
    inner join bounds on messages.request_id = bounds.request_id
    group by messages.request_id, bounds.has_reply, bounds.last_assistant_index, bounds.ingested_at
)

select * from keyed
