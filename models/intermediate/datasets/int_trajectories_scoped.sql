-- One row per trajectory and training scope it may appear in (consent):
--   1. 'global' when its tenant's policy has allow_global_training;
--   2. its tenant_id when the policy has allow_tenant_training.
--   A tenant without a tenant_data_policies row gets no scope: its
--   trajectories reach no dataset. pii_allowed is carried along; every
--   example is de-identified whatever it says (de-identification is
--   mandatory when it is false, and trellis applies it always).
with

scored as (
    select * from {{ ref('int_trajectories_scored') }}
),

policies as (
    select * from {{ ref('tenant_data_policies') }}
),

global_scope as (
    select
        scored.*,
        'global' as tenant_scope,
        policies.pii_allowed,
        policies.policy_version
    from scored
    inner join policies on scored.tenant_id = policies.tenant_id
    where policies.allow_global_training
),

tenant_scope as (
    select
        scored.*,
        scored.tenant_id as tenant_scope,
        policies.pii_allowed,
        policies.policy_version
    from scored
    inner join policies on scored.tenant_id = policies.tenant_id
    where policies.allow_tenant_training
),

scoped as (
    select * from global_scope
    union all
    select * from tenant_scope
)

select * from scoped
