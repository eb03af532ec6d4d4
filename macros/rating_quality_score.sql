{#- The 0-10 quality a thumbs rating stands for: +1 is 10, -1 is 0. -#}
{% macro rating_quality_score(rating_expr) -%}
    case {{ rating_expr }} when 1 then 10.0 when -1 then 0.0 end
{%- endmacro %}
