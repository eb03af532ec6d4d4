{{ trellis.daily_cost_rollup('agent_id') }}
