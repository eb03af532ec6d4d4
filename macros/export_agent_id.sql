{#- The agent id as exported to consumers: md5(salt || agent_id) when the
    session has an export salt (pseudonymous but joinable across exports with
    the same salt), else the id itself. md5 and || behave the same on both
    targets; the salt comes from trellis.export_salt(). -#}
{% macro export_agent_id(column_expr) -%}
    (case
        when {{ trellis.export_salt() }} = '' then {{ column_expr }}
        else md5({{ trellis.export_salt() }} || {{ column_expr }})
    end)
{%- endmacro %}
