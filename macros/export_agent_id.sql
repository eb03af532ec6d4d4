{#- The agent id as exported to consumers: md5(salt || agent_id) when the var
    agent_id_hash_salt is set (pseudonymous but joinable across exports with the
    same salt), else the id itself. md5 and || behave the same on both targets. -#}
{% macro export_agent_id(column_expr) -%}
    {%- set salt = var('agent_id_hash_salt', '') -%}
    {%- if salt -%}
        md5('{{ salt | replace("'", "''") }}' || {{ column_expr }})
    {%- else -%}
        {{ column_expr }}
    {%- endif -%}
{%- endmacro %}
