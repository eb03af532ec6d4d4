{% test no_pii_leftover(model, column_name) %}
    {#- Fails on every value of a dataset column that a de-identification
        detector still matches (seed deid_detectors, validators included):
        one failing row per leftover match, with its type. -#}
    {{ trellis.deid_leftovers(model, column_name, ref('deid_detectors')) }}
{% endtest %}
