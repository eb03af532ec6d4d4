{#- The provenance of a dataset example as JSON text: the source request ids
    (the trajectory's path, or the pair's answers), the trajectory id, the
    feedback and label ids the choice rests on, the tenant, the policy version
    in force and the dbt invocation that built it. The frozen snapshot and the
    code version are added to every row by `trellis freeze` (columns
    frozen_snapshot_id and frozen_code_version). DuckDB only, like the datasets. -#}
{% macro dataset_provenance(source_request_ids, trajectory_id, feedback_ids, tenant_id, policy_version, extra='') -%}
    {{ return(adapter.dispatch('dataset_provenance', 'trellis')(source_request_ids, trajectory_id, feedback_ids, tenant_id, policy_version, extra)) }}
{%- endmacro %}

{% macro default__dataset_provenance(source_request_ids, trajectory_id, feedback_ids, tenant_id, policy_version, extra='') -%}
    {#- raised when run, not when parsed: models disabled on this target are still parsed -#}
    {%- if execute %}{{ exceptions.raise_compiler_error("dataset_provenance is implemented for DuckDB only (datasets build on the DuckDB workbench), not for " ~ adapter.type()) }}{% endif -%}
{%- endmacro %}

{% macro duckdb__dataset_provenance(source_request_ids, trajectory_id, feedback_ids, tenant_id, policy_version, extra='') -%}
    to_json({
        'source_request_ids': from_json({{ source_request_ids }}, '["VARCHAR"]'),
        'trajectory_id': {{ trajectory_id }},
        'feedback_ids': from_json({{ feedback_ids }}, '["VARCHAR"]'),
        'tenant_id': {{ tenant_id }},
        'policy_version': {{ policy_version }},
        'dbt_invocation_id': '{{ invocation_id }}'
        {%- if extra %}, {{ extra }}{% endif %}
    })::varchar
{%- endmacro %}
