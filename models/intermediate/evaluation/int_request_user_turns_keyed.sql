-- One row per request (id and tenant): the canonical message keys of its context's user turns,
-- in order, and whether its context ends with a user turn (the call answers a
-- new ask). A table of its own, reading each list of the staging view once:
-- the view derives them from the raw records on every reference.

with

contexts as (
    select * from {{ ref('stg_gateway__request_contexts') }}
),

turns as materialized (
    select
        contexts.request_id,
        contexts.tenant_id,
        -- lambda parameters are not table references
        list_transform(
            list_zip(contexts.message_keys, contexts.message_roles),
            lambda turn: { 'message_key': turn[1], 'role': turn[2] }  -- noqa: RF03
        ) as turns
    from contexts
),

keyed as (
    select
        turns.request_id,
        turns.tenant_id,
        list_transform(
            list_filter(turns.turns, lambda turn: turn.role = 'user'),  -- noqa: RF03
            lambda turn: turn.message_key  -- noqa: RF03
        ) as user_message_keys,
        coalesce(turns.turns[-1].role = 'user', false) as is_asking
    from turns
)

select * from keyed
