{#- Every source renders through trellis.portable_relation (see ref). -#}
{% macro source() -%}
    {{ return(trellis.portable_relation(builtins.source(*varargs, **kwargs))) }}
{%- endmacro %}
