{{ trellis.daily_cost_rollup('tenant_id') }}
