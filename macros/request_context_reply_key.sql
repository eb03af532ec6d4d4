{#- md5 key of the canonical reply message; null when the call has no reply. -#}
{% macro request_context_reply_key(alias='_ctx') -%}
    {{ return(adapter.dispatch('request_context_reply_key', 'trellis')(alias)) }}
{%- endmacro %}

{% macro postgres__request_context_reply_key(alias='_ctx') -%}
    case
        when jsonb_typeof({{ alias }} #> '{response,choices,0,message}') = 'object'
            then md5({{ trellis.pg_canonical_message("(" ~ alias ~ " #> '{response,choices,0,message}')") }})
    end
{%- endmacro %}

{% macro duckdb__request_context_reply_key(alias='_ctx') -%}
    case
        when {{ alias }}.response.choices[1].message is not null
            then md5({{ trellis.duckdb_canonical_message(alias ~ '.response.choices[1].message') }})
    end
{%- endmacro %}

{% macro default__request_context_reply_key(alias='_ctx') -%}
    {{ trellis.unsupported_adapter('request_context_reply_key') }}
{%- endmacro %}
