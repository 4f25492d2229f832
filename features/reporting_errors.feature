@reporting-errors @stub
Feature: Reporting errors - every refusal the reporting API defines, on each of the six endpoints
  PDP's reporting system test pack checks that each endpoint refuses what the reporting API
  specification (v2.1) forbids. For every INVALID_* code the yaml lists for an endpoint, a body
  with exactly that field broken is refused twice: by the harness's own validator (the one that
  checks the organisation's bodies before sending), naming the field and the code, and by the
  reporting API (the harness's simulator, or the MaPS stub with [reporting] stub = true), with 400
  and the same code. Then the transport cases: a bad X-Request-ID, a body over 1 MiB, a content
  type other than JSON, another method than POST, and a path that is not one of the six.
  Case ids are RS-<endpoint>-<nn> (PDP's own script ids are not public); README, "Reporting errors",
  traces each to the code it mirrors. Run with: pdp-harness run --pack reporting-errors

  @case:<case>
  Scenario Outline: <endpoint> is refused with <code> when <field> is <value>
    When the harness checks a "<endpoint>" body whose "<field>" is "<value>"
    Then the harness refuses it before sending, naming "<field>" with "<code>"
    And the reporting API refuses the same body with 400 and "<code>"

    Examples:
      | case           | endpoint                      | code                              | field                                              | value                |
      | RS-FIND-02     | /service-availability/find    | INVALID_HOLDERNAMEGUID            | items                                              | []                   |
      | RS-FIND-03     | /service-availability/find    | INVALID_RECORD_ID                 | record_id                                          | 12345                |
      | RS-FIND-04     | /service-availability/find    | INVALID_SUBMISSION_REASON         | submission_reason                                  | first submission     |
      | RS-FIND-05     | /service-availability/find    | INVALID_REPORTING_PERIOD_START    | reporting_period_start                             | 2026-11-21           |
      | RS-FIND-06     | /service-availability/find    | INVALID_UNAVAIL_SCHEDULED         | items[0].*[0].unavail_scheduled                    | yes                  |
      | RS-FIND-07     | /service-availability/find    | INVALID_UNAVAIL_REASON            | items[0].*[0].unavail_reason                       | outage (planned)     |
      | RS-FIND-08     | /service-availability/find    | INVALID_START_DATE_TS             | items[0].*[0].start_date_ts                        | yesterday            |
      | RS-FIND-09     | /service-availability/find    | INVALID_END_DATE_TS               | items[0].*[0].end_date_ts                          | 21/11/2026 10:00     |
      | RS-VIEW-02     | /service-availability/view    | INVALID_HOLDERNAMEGUID            | items                                              | []                   |
      | RS-VIEW-03     | /service-availability/view    | INVALID_RECORD_ID                 | record_id                                          | 12345                |
      | RS-VIEW-04     | /service-availability/view    | INVALID_SUBMISSION_REASON         | submission_reason                                  | first submission     |
      | RS-VIEW-05     | /service-availability/view    | INVALID_REPORTING_PERIOD_START    | reporting_period_start                             | 2026-11-21           |
      | RS-VIEW-06     | /service-availability/view    | INVALID_UNAVAIL_SCHEDULED         | items[0].*[0].unavail_scheduled                    | yes                  |
      | RS-VIEW-07     | /service-availability/view    | INVALID_UNAVAIL_REASON            | items[0].*[0].unavail_reason                       | outage (planned)     |
      | RS-VIEW-08     | /service-availability/view    | INVALID_START_DATE_TS             | items[0].*[0].start_date_ts                        | yesterday            |
      | RS-VIEW-09     | /service-availability/view    | INVALID_END_DATE_TS               | items[0].*[0].end_date_ts                          | 21/11/2026 10:00     |
      | RS-REQNUM-02   | /view-response/request-number | INVALID_HOLDERNAMEGUID            | holdernameGuid                                     | not-a-guid           |
      | RS-REQNUM-03   | /view-response/request-number | INVALID_RECORD_ID                 | record_id                                          | 12345                |
      | RS-REQNUM-04   | /view-response/request-number | INVALID_SUBMISSION_REASON         | submission_reason                                  | first submission     |
      | RS-REQNUM-05   | /view-response/request-number | INVALID_REPORTING_PERIOD_START    | reporting_period_start                             | 2026-11-21           |
      | RS-REQNUM-06   | /view-response/request-number | INVALID_REQ_COUNT                 | req_count                                          | -1                   |
      | RS-RESPTIME-02 | /view-response/response-time  | INVALID_HOLDERNAMEGUID            | holdernameGuid                                     | not-a-guid           |
      | RS-RESPTIME-03 | /view-response/response-time  | INVALID_RECORD_ID                 | record_id                                          | 12345                |
      | RS-RESPTIME-04 | /view-response/response-time  | INVALID_SUBMISSION_ID             | submission_id                                      | batch-7              |
      | RS-RESPTIME-05 | /view-response/response-time  | INVALID_SUBMISSION_REASON         | submission_reason                                  | first submission     |
      | RS-RESPTIME-06 | /view-response/response-time  | INVALID_REPORTING_PERIOD_START    | reporting_period_start                             | 2026-11-21           |
      | RS-RESPTIME-07 | /view-response/response-time  | INVALID_REQ_DATE_TS               | items[0].req_date_ts                               | 21/11/2026 10:00     |
      | RS-RESPTIME-08 | /view-response/response-time  | INVALID_RESP_DATE_TS              | items[0].resp_date_ts                              | tomorrow             |
      | RS-CALC-02     | /view-response/calculations   | INVALID_HOLDERNAMEGUID            | holdernameGuid                                     | not-a-guid           |
      | RS-CALC-03     | /view-response/calculations   | INVALID_RECORD_ID                 | record_id                                          | 12345                |
      | RS-CALC-04     | /view-response/calculations   | INVALID_SUBMISSION_ID             | submission_id                                      | batch-7              |
      | RS-CALC-05     | /view-response/calculations   | INVALID_SUBMISSION_REASON         | submission_reason                                  | first submission     |
      | RS-CALC-06     | /view-response/calculations   | INVALID_REPORTING_PERIOD_START    | reporting_period_start                             | 2026-11-21           |
      | RS-CALC-07     | /view-response/calculations   | INVALID_CALCULATION_TYPE          | calculation_type                                   | double               |
      | RS-CALC-08     | /view-response/calculations   | INVALID_VALUE_CODE                | single_calculation.items[0].value_code             | ANO                  |
      | RS-CALC-09     | /view-response/calculations   | INVALID_CALCULATION_START_DATE    | single_calculation.items[0].calculation_start_date | soon                 |
      | RS-CALC-10     | /view-response/calculations   | INVALID_CALCULATION_END_DATE      | single_calculation.items[0].calculation_end_date   | 2026-13-01T00:00:00Z |
      | RS-UNAVAIL-02  | /view-response/unavailable    | INVALID_HOLDERNAMEGUID            | holdernameGuid                                     | not-a-guid           |
      | RS-UNAVAIL-03  | /view-response/unavailable    | INVALID_RECORD_ID                 | record_id                                          | 12345                |
      | RS-UNAVAIL-04  | /view-response/unavailable    | INVALID_SUBMISSION_ID             | submission_id                                      | batch-7              |
      | RS-UNAVAIL-05  | /view-response/unavailable    | INVALID_SUBMISSION_REASON         | submission_reason                                  | first submission     |
      | RS-UNAVAIL-06  | /view-response/unavailable    | INVALID_REPORTING_PERIOD_START    | reporting_period_start                             | 2026-11-21           |
      | RS-UNAVAIL-07  | /view-response/unavailable    | INVALID_CONTACT_COUNT             | contact_count                                      | -1                   |
      | RS-UNAVAIL-08  | /view-response/unavailable    | INVALID_MISSINGADMIN_COUNT        | missingadmin_count                                 | 1.5                  |
      | RS-UNAVAIL-09  | /view-response/unavailable    | INVALID_TEMPERROR_COUNT           | temperror_count                                    | three                |
      | RS-UNAVAIL-10  | /view-response/unavailable    | INVALID_ERI_UNAVAIL_PPF_COUNT     | eri_unavail_ppf_count                              | -1                   |
      | RS-UNAVAIL-11  | /view-response/unavailable    | INVALID_ERI_UNAVAIL_ANO_COUNT     | eri_unavail_ano_count                              | 2147483648           |
      | RS-UNAVAIL-12  | /view-response/unavailable    | INVALID_ERI_UNAVAIL_TRN_COUNT     | eri_unavail_trn_count                              | null                 |
      | RS-UNAVAIL-13  | /view-response/unavailable    | INVALID_ACCRUED_UNAVAIL_ANO_COUNT | accrued_unavail_ano_count                          | -1                   |
      | RS-UNAVAIL-14  | /view-response/unavailable    | INVALID_UNAVAIL_PPF_COUNT         | accrued_unavail_ppf_count                          | -1                   |
      | RS-UNAVAIL-15  | /view-response/unavailable    | INVALID_ACCRUED_UNAVAIL_TRN_COUNT | accrued_unavail_trn_count                          | (absent)             |

  @case:<case>
  Scenario Outline: <endpoint> is refused with <code> when X-Request-ID is <value>
    When the organisation posts a valid "<endpoint>" body with X-Request-ID "<value>"
    Then the reporting API answers 400 with the code "<code>"

    Examples:
      | case           | endpoint                      | code                 | value      |
      | RS-FIND-01     | /service-availability/find    | INVALID_X_REQUEST_ID | not-a-uuid |
      | RS-VIEW-01     | /service-availability/view    | INVALID_X_REQUEST_ID | not-a-uuid |
      | RS-REQNUM-01   | /view-response/request-number | INVALID_X_REQUEST_ID | not-a-uuid |
      | RS-RESPTIME-01 | /view-response/response-time  | INVALID_X_REQUEST_ID | not-a-uuid |
      | RS-CALC-01     | /view-response/calculations   | INVALID_X_REQUEST_ID | not-a-uuid |
      | RS-UNAVAIL-01  | /view-response/unavailable    | INVALID_X_REQUEST_ID | not-a-uuid |

  @case:<case>
  Scenario Outline: <endpoint> is refused with 413 CONTENT_TOO_LARGE for a body over 1 MiB
    When the organisation posts a valid "<endpoint>" body padded to over 1 MiB
    Then the reporting API answers 413 with the code "CONTENT_TOO_LARGE"

    Examples:
      | case           | endpoint                      |
      | RS-FIND-91     | /service-availability/find    |
      | RS-VIEW-91     | /service-availability/view    |
      | RS-REQNUM-91   | /view-response/request-number |
      | RS-RESPTIME-91 | /view-response/response-time  |
      | RS-CALC-91     | /view-response/calculations   |
      | RS-UNAVAIL-91  | /view-response/unavailable    |

  @case:<case>
  Scenario Outline: <endpoint> is refused with 415 INVALID_CONTENT_TYPE for a body sent as text
    When the organisation posts a valid "<endpoint>" body as "text/plain"
    Then the reporting API answers 415 with the code "INVALID_CONTENT_TYPE"

    Examples:
      | case           | endpoint                      |
      | RS-FIND-92     | /service-availability/find    |
      | RS-VIEW-92     | /service-availability/view    |
      | RS-REQNUM-92   | /view-response/request-number |
      | RS-RESPTIME-92 | /view-response/response-time  |
      | RS-CALC-92     | /view-response/calculations   |
      | RS-UNAVAIL-92  | /view-response/unavailable    |

  @case:<case>
  Scenario Outline: <endpoint> is refused with 405 METHOD_NOT_ALLOWED for PUT
    When the organisation sends PUT to "<endpoint>"
    Then the reporting API answers 405 with the code "METHOD_NOT_ALLOWED"

    Examples:
      | case           | endpoint                      |
      | RS-FIND-93     | /service-availability/find    |
      | RS-VIEW-93     | /service-availability/view    |
      | RS-REQNUM-93   | /view-response/request-number |
      | RS-RESPTIME-93 | /view-response/response-time  |
      | RS-CALC-93     | /view-response/calculations   |
      | RS-UNAVAIL-93  | /view-response/unavailable    |

  @case:<case>
  Scenario Outline: <path>, not one of the six paths, is refused with 404 INVALID_URL
    When the organisation sends POST to "<path>"
    Then the reporting API answers 404 with the code "INVALID_URL"

    Examples:
      | case      | path                           |
      | RS-URL-01 | /service-availability          |
      | RS-URL-02 | /view-response/request-numbers |
