@reporting
Feature: Reporting - data submitted to all six reporting API endpoints within one UTC day
  PDP's reporting integration test checks that the organisation submitted reporting data to
  each of the six reporting API endpoints, and its pipeline only looks at submissions of the
  current UTC calendar day. The harness submits the organisation's data over mutual TLS, checks
  every body against the reporting API specification (v2.1) before sending, keeps a journal so
  nothing is sent twice by accident, and compares what was reported with what it observed.
  On the embedded default the data is derived from what the reference provider did in this
  stage and the reporting API is the harness's simulator. Run with: pdp-harness run --pack reporting

  @case:RP-01
  Scenario: Members' pensions are viewed, one whose member must contact the scheme (2.004), giving the organisation something to report
    Given the provider's test data has been cleared down
    And the members of test cases "CP-01" and "S1-15" have registered PeIs
    When the dashboard requests the view data of each registered PeI through the UMA flow
    Then each view response is a valid view data token signed by the provider
    And the view data matches the registration and the test pack

  @case:RP-02 @endpoint:service-availability-find
  Scenario: Find service availability is submitted and accepted
    When the organisation submits its reporting data to "/service-availability/find"
    Then every record is accepted with 202, a message and a timestamp

  @case:RP-03 @endpoint:service-availability-view
  Scenario: View service availability is submitted and accepted
    When the organisation submits its reporting data to "/service-availability/view"
    Then every record is accepted with 202, a message and a timestamp

  @case:RP-04 @endpoint:view-response-request-number
  Scenario: The number of view requests received is submitted and accepted
    When the organisation submits its reporting data to "/view-response/request-number"
    Then every record is accepted with 202, a message and a timestamp

  @case:RP-05 @endpoint:view-response-response-time
  Scenario: View responses that took over 10 seconds are submitted and accepted
    When the organisation submits its reporting data to "/view-response/response-time"
    Then every record is accepted with 202, a message and a timestamp

  @case:RP-06 @endpoint:view-response-calculations
  Scenario: Values not available for immediate return are submitted and accepted
    When the organisation submits its reporting data to "/view-response/calculations"
    Then every record is accepted with 202, a message and a timestamp

  @case:RP-07 @endpoint:view-response-unavailable
  Scenario: Counts of unavailable and contact-provider responses are submitted and accepted
    When the organisation submits its reporting data to "/view-response/unavailable"
    Then every record is accepted with 202, a message and a timestamp

  @case:RP-08
  Scenario: All six endpoints were submitted within the same UTC calendar day
    Then all six reporting endpoints have accepted submissions on one UTC calendar day

  @case:RP-09 @reconciliation
  Scenario: What the organisation reported agrees with what the harness observed
    Then what the organisation reported agrees with what the harness observed

  @case:RP-10 @null-submission @endpoint:service-availability-find
  Scenario: A null submission for find service availability is accepted
    When the organisation sends a null submission to "/service-availability/find"
    Then every record is a "null submission" with submission_id null
    And every record is accepted with 202, a message and a timestamp

  @case:RP-11 @null-submission @endpoint:service-availability-view
  Scenario: A null submission for view service availability is accepted
    When the organisation sends a null submission to "/service-availability/view"
    Then every record is a "null submission" with submission_id null
    And every record is accepted with 202, a message and a timestamp

  @case:RP-12 @null-submission @endpoint:view-response-response-time
  Scenario: A null submission for response times is accepted
    When the organisation sends a null submission to "/view-response/response-time"
    Then every record is a "null submission" with submission_id null
    And every record is accepted with 202, a message and a timestamp

  @case:RP-13 @null-submission @endpoint:view-response-calculations
  Scenario: A null submission for calculations is accepted
    When the organisation sends a null submission to "/view-response/calculations"
    Then every record is a "null submission" with submission_id null
    And every record is accepted with 202, a message and a timestamp

  @case:RP-14 @null-submission @negative
  Scenario: No null submission is sent where the specification has none
    Then the harness refuses to build a null submission for "/view-response/request-number", saying why
    And the harness refuses to build a null submission for "/view-response/unavailable", saying why

  @case:RP-15 @stub @endpoint:view-response-request-number
  Scenario: A correction refused with 429 Too Many Requests is retried with exponential backoff and accepted
    # As the reporting API answers: 429 asks for exponential backoff and carries no Retry-After.
    Given the reporting API will answer "/view-response/request-number" with 429 TOO_MANY_REQUESTS for the next 2 calls
    When the organisation resubmits its reporting data to "/view-response/request-number" as a correction
    Then the record is accepted after 3 attempts, backing off exponentially before each retry
    And every record is a "resubmission" with submission_status "correction"

  @case:RP-16 @stub @negative @endpoint:view-response-unavailable
  Scenario: A refusal with 400 is shown with its code and not retried
    Given the reporting API will answer "/view-response/unavailable" with 400 INVALID_CONTACT_COUNT for the next 1 call
    When the organisation resubmits its reporting data to "/view-response/unavailable" as a correction
    Then the reporting API refuses it with 400 and the code "INVALID_CONTACT_COUNT", and it is not retried

  @case:RP-17 @stub @negative @endpoint:view-response-request-number
  Scenario: A body the specification forbids is refused by the harness and by the reporting API
    When the harness checks a "/view-response/request-number" body whose "req_count" is "-1"
    Then the harness refuses it before sending, naming "req_count" with "INVALID_REQ_COUNT"
    And the reporting API refuses the same body with 400 and "INVALID_REQ_COUNT"
