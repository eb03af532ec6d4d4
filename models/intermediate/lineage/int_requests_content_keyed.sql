{{
    config(
        materialized='incremental',
        unique_key=['request_id', 'tenant_id'],
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

-- One row per request: the content keys that content lineage joins on, with
-- the few request columns parent resolution needs (so it reads one table).
--   context_key        md5 of the keys of the messages the request was sent
--   exchange_key       md5 of those keys followed by its reply's key
--   parent_prefix_key  md5 of the keys up to and including the last assistant
--                      message (null when there is none)
-- A request P is the content parent of N when P.exchange_key = N.parent_prefix_key
-- (contract section 3): P's context equals N's messages before the last
-- assistant turn j, and P's reply equals message j. Each key hashes a
-- sequence of fixed-width message keys, so equal keys mean equal sequences.

with

contexts as (
    select * from {{ ref('stg_gateway__request_contexts') }}
    {% if is_incremental() %}
        where ingested_at > {{ trellis.stored_watermark('ingested_at') }}
    {% endif %}
),

positioned as (
    select
        request_id,
        tenant_id,
        parent_request_id,
        message_keys,
        reply_key,
        {{ trellis.array_last_position('message_roles', "'assistant'") }} as last_assistant_position,
        {{ trellis.array_length_of('message_keys') }} as message_count,
        created_at,
        ingested_at
    from contexts
),

keyed as (
    select
        request_id,
        tenant_id,
        parent_request_id,
        md5(array_to_string(message_keys, '')) as context_key,
        case when reply_key is not null then md5(array_to_string(message_keys, '') || reply_key) end as exchange_key,
        case
            when last_assistant_position is not null
                then md5(array_to_string({{ trellis.array_prefix('message_keys', 'last_assistant_position') }}, ''))
        end as parent_prefix_key,
        message_count,
        created_at,
        ingested_at
    from positioned
)

select * from keyed
