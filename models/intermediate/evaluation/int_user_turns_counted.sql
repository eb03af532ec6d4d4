{{
    config(
        materialized='incremental',
        unique_key=['tenant_id', 'message_md5', 'root_node_id'],
        incremental_strategy='delete+insert',
    )
}}

-- One row per tenant x user-turn text x conversation root that holds it: the
-- document frequency behind the task view's boilerplate rule (a user turn
-- sent in many of a tenant's conversations, "Thanks, make it shorter", says
-- nothing about what was asked). Counted by root, so the branches of one tree
-- count once. Incremental: a run reads only the trajectories resolved since
-- the last one.
with

trajectories as (
    select
        trajectory_id,
        tenant_id,
        root_node_id,
        leaf_node_id,
        resolved_at
    from {{ ref('trajectory_units') }}
    {% if is_incremental() %}
        where resolved_at > {{ trellis.stored_watermark('resolved_at') }}
    {% endif %}
),

messages as (
    select * from {{ ref('stg_gateway__request_messages') }}
),

user_turns as (
    select
        trajectories.tenant_id,
        md5(messages.message_text) as message_md5,
        trajectories.root_node_id,
        max(trajectories.resolved_at) as resolved_at
    from trajectories
    inner join messages
        on
            trajectories.leaf_node_id = messages.request_id
            and trajectories.tenant_id = messages.tenant_id
    where messages.message_role = 'user' and not messages.is_reply and messages.message_text <> ''
    group by trajectories.tenant_id, md5(messages.message_text), trajectories.root_node_id
)

select * from user_turns
