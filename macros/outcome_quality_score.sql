{#- The 0-10 quality an automatic outcome stands for, when a call has no
    quality score or rating: success 7, fallback 5, user_rejected, error and
    timeout 0 (anything else: null). One rule for every automatic score. -#}
{% macro outcome_quality_score(outcome_expr) -%}
    case {{ outcome_expr }}
        when 'success' then 7.0
        when 'fallback' then 5.0
        when 'user_rejected' then 0.0
        when 'error' then 0.0
        when 'timeout' then 0.0
    end
{%- endmacro %}
