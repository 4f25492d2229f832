@errors
Feature: Error catalogue - every C&A error the MaPS stub seeds, and bad view requests
  PDP's system testing runs the MaPS stub's seeded error scenarios. Each case here arms the
  simulated C&A to answer as the stub does (per endpoint and, for /rreguri, per method: a status
  with the stub's error body, no answer, a closed connection, or a negative introspection
  result) and checks that the provider does the right thing: transient errors (429, 5xx, no
  answer) are retried with backoff honouring Retry-After and the find still ends in the right
  registrations; errors that retrying cannot mend (4xx) are not retried; a permanent failure ends
  in nothing registered and no view data, without a retry storm (the calls are counted). Each
  case names the stub scenario it mirrors. Run with: pdp-harness run --pack errors
  Test data: testpacks/integration/pack.toml (the member of CP-01, who has one pension).

  Background:
    Given the provider's test data has been cleared down

  Scenario Outline: <title>
    Given the C&A answers /token with <status> "<stub>" from now on
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And no PeI is registered for a find whose PAT or registration the C&A refused
    And the provider called /token at most <bound> times

    @case:E-TOK-01
    Examples: E-TOK-01
      | title                                                                                                               | status | stub            | bound |
      | E-TOK-01 A PAT request refused with 400 is not retried and nothing is registered (stub: /token 400 invalid_request) | 400    | invalid_request | 1     |

    @case:E-TOK-02
    Examples: E-TOK-02
      | title                                                                                                             | status | stub          | bound |
      | E-TOK-02 A PAT request refused with 400 is not retried and nothing is registered (stub: /token 400 invalid_grant) | 400    | invalid_grant | 1     |

    @case:E-TOK-03
    Examples: E-TOK-03
      | title                                                                                                                   | status | stub                | bound |
      | E-TOK-03 A PAT request refused with 400 is not retried and nothing is registered (stub: /token 400 unauthorised_client) | 400    | unauthorised_client | 1     |

    @case:E-TOK-04
    Examples: E-TOK-04
      | title                                                                                                                   | status | stub                | bound |
      | E-TOK-04 A PAT request refused with 400 is not retried and nothing is registered (stub: /token 400 incorrect signature) | 400    | incorrect signature | 1     |

    @case:E-TOK-05
    Examples: E-TOK-05
      | title                                                                                                           | status | stub        | bound |
      | E-TOK-05 A PAT request refused with 401 is not retried and nothing is registered (stub: /token 401 expired PAT) | 401    | expired PAT | 2     |

  @case:E-TOK-06
  Scenario: E-TOK-06 A PAT request answered 429 twice is retried honouring Retry-After and the find still registers (stub: /token 429)
    Given the C&A answers /token with 429 "too many requests" and Retry-After 1 for the next 2 calls
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And exactly the PeIs expected by the test pack are registered within the registration limit
    And the provider retried token until it succeeded, waiting at least 1 seconds between attempts

  Scenario Outline: <title>
    Given the C&A answers /token with <status> for the next 2 calls
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And exactly the PeIs expected by the test pack are registered within the registration limit
    And the provider retried token after the failure

    @case:E-TOK-07
    Examples: E-TOK-07
      | title                                                                                                    | status |
      | E-TOK-07 A PAT request failing twice with 500 is retried and the find still registers (stub: /token 500) | 500    |

    @case:E-TOK-08
    Examples: E-TOK-08
      | title                                                                                                    | status |
      | E-TOK-08 A PAT request failing twice with 502 is retried and the find still registers (stub: /token 502) | 502    |

    @case:E-TOK-09
    Examples: E-TOK-09
      | title                                                                                                    | status |
      | E-TOK-09 A PAT request failing twice with 503 is retried and the find still registers (stub: /token 503) | 503    |

    @case:E-TOK-10
    Examples: E-TOK-10
      | title                                                                                                    | status |
      | E-TOK-10 A PAT request failing twice with 504 is retried and the find still registers (stub: /token 504) | 504    |

  Scenario Outline: <title>
    Given the C&A answers /token with <answer> from now on
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And no PeI is registered for a find whose PAT or registration the C&A refused
    And the provider called /token at most 10 times

    @case:E-TOK-11
    Examples: E-TOK-11
      | title                                                                                                                | answer                                    |
      | E-TOK-11 A PAT request answered 429 every time is retried within bounds and nothing is registered (stub: /token 429) | 429 "too many requests" and Retry-After 1 |

    @case:E-TOK-12
    Examples: E-TOK-12
      | title                                                                                                                | answer |
      | E-TOK-12 A PAT request answered 500 every time is retried within bounds and nothing is registered (stub: /token 500) | 500    |

    @case:E-TOK-13
    Examples: E-TOK-13
      | title                                                                                                                | answer |
      | E-TOK-13 A PAT request answered 502 every time is retried within bounds and nothing is registered (stub: /token 502) | 502    |

    @case:E-TOK-14
    Examples: E-TOK-14
      | title                                                                                                                | answer |
      | E-TOK-14 A PAT request answered 503 every time is retried within bounds and nothing is registered (stub: /token 503) | 503    |

    @case:E-TOK-15
    Examples: E-TOK-15
      | title                                                                                                                | answer |
      | E-TOK-15 A PAT request answered 504 every time is retried within bounds and nothing is registered (stub: /token 504) | 504    |

  @case:E-REG-01
  Scenario: E-REG-01 A registration refused with 404 user removed is not retried and nothing is registered (stub: /rreguri POST 404 user removed)
    Given the C&A answers POST /rreguri with 404 "user removed" from now on
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And no PeI is registered for a find whose PAT or registration the C&A refused
    And the provider called POST /rreguri exactly 1 time

  @case:E-REG-02
  Scenario: E-REG-02 A registration answered 429 twice is retried honouring Retry-After (stub: /rreguri POST 429)
    Given the C&A answers POST /rreguri with 429 "too many requests" and Retry-After 1 for the next 2 calls
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And exactly the PeIs expected by the test pack are registered within the registration limit
    And the provider retried rreguri until it succeeded, waiting at least 1 seconds between attempts

  Scenario Outline: <title>
    Given the C&A answers POST /rreguri <fault>
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And exactly the PeIs expected by the test pack are registered within the registration limit
    And the provider retried rreguri after the failure

    @case:E-REG-03
    Examples: E-REG-03
      | title                                                                                             | fault                         |
      | E-REG-03 A registration failing twice with 500 is retried and registers (stub: /rreguri POST 500) | with 500 for the next 2 calls |

    @case:E-REG-04
    Examples: E-REG-04
      | title                                                                                             | fault                         |
      | E-REG-04 A registration failing twice with 502 is retried and registers (stub: /rreguri POST 502) | with 502 for the next 2 calls |

    @case:E-REG-05
    Examples: E-REG-05
      | title                                                                                             | fault                         |
      | E-REG-05 A registration failing twice with 503 is retried and registers (stub: /rreguri POST 503) | with 503 for the next 2 calls |

    @case:E-REG-06
    Examples: E-REG-06
      | title                                                                                             | fault                         |
      | E-REG-06 A registration failing twice with 504 is retried and registers (stub: /rreguri POST 504) | with 504 for the next 2 calls |

  @case:E-REG-07
  Scenario: E-REG-07 A registration the C&A never answers is given up on and retried (stub: /rreguri POST 504, as a timeout)
    Given the C&A hangs on POST /rreguri once
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And exactly the PeIs expected by the test pack are registered within the registration limit
    And the provider retried rreguri after the failure

  @case:E-REG-08
  Scenario: E-REG-08 A registration whose connection is closed is retried (stub: /rreguri POST, connection closed)
    Given the C&A closes the connection on POST /rreguri once
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And exactly the PeIs expected by the test pack are registered within the registration limit
    And the provider retried rreguri after the failure

  Scenario Outline: <title>
    Given the C&A answers POST /rreguri with <answer> from now on
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And no PeI is registered for a find whose PAT or registration the C&A refused
    And the provider called POST /rreguri at most 10 times

    @case:E-REG-09
    Examples: E-REG-09
      | title                                                                                              | answer                                    |
      | E-REG-09 A registration answered 429 every time is retried within bounds (stub: /rreguri POST 429) | 429 "too many requests" and Retry-After 1 |

    @case:E-REG-10
    Examples: E-REG-10
      | title                                                                                              | answer |
      | E-REG-10 A registration answered 500 every time is retried within bounds (stub: /rreguri POST 500) | 500    |

    @case:E-REG-11
    Examples: E-REG-11
      | title                                                                                              | answer |
      | E-REG-11 A registration answered 502 every time is retried within bounds (stub: /rreguri POST 502) | 502    |

    @case:E-REG-12
    Examples: E-REG-12
      | title                                                                                              | answer |
      | E-REG-12 A registration answered 503 every time is retried within bounds (stub: /rreguri POST 503) | 503    |

    @case:E-REG-13
    Examples: E-REG-13
      | title                                                                                              | answer |
      | E-REG-13 A registration answered 504 every time is retried within bounds (stub: /rreguri POST 504) | 504    |

  @case:E-REG-14
  Scenario: E-REG-14 A registration refused with 401 expired PAT is retried with a fresh PAT and registers (stub: /rreguri POST 401 expired PAT)
    Given the C&A answers POST /rreguri with 401 "expired PAT" once
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And exactly the PeIs expected by the test pack are registered within the registration limit
    And the provider obtained a fresh PAT and retried POST /rreguri with it

  @case:E-PRM-01
  Scenario: E-PRM-01 A permission ticket refused with 401 expired PAT gives no view data and no loop (stub: /perm 401 expired PAT)
    Given the member of test case "CP-01" has a registered PeI
    And the C&A answers /perm with 401 "expired PAT" once
    When the dashboard calls the view endpoint for the PeI of case "CP-01" without a token
    Then the provider returns no view data
    And the provider called /perm at most 2 times

  Scenario Outline: <title>
    Given the member of test case "CP-01" has a registered PeI
    And the C&A answers /perm with <answer> from now on
    When the dashboard calls the view endpoint for the PeI of case "CP-01" without a token
    Then the provider returns no view data
    And the provider called /perm at most <bound> times

    @case:E-PRM-02
    Examples: E-PRM-02
      | title                                                                                                                | answer                   | bound |
      | E-PRM-02 A permission ticket refused with 404 resource not found is not retried (stub: /perm 404 resource not found) | 404 "resource not found" | 1     |

    @case:E-PRM-03
    Examples: E-PRM-03
      | title                                                                                                 | answer | bound |
      | E-PRM-03 A permission ticket answered 500 every time gives no view data and no loop (stub: /perm 500) | 500    | 10    |

    @case:E-PRM-04
    Examples: E-PRM-04
      | title                                                                                                 | answer | bound |
      | E-PRM-04 A permission ticket answered 502 every time gives no view data and no loop (stub: /perm 502) | 502    | 10    |

    @case:E-PRM-05
    Examples: E-PRM-05
      | title                                                                                                 | answer | bound |
      | E-PRM-05 A permission ticket answered 503 every time gives no view data and no loop (stub: /perm 503) | 503    | 10    |

    @case:E-PRM-06
    Examples: E-PRM-06
      | title                                                                                                 | answer | bound |
      | E-PRM-06 A permission ticket answered 504 every time gives no view data and no loop (stub: /perm 504) | 504    | 10    |

  Scenario Outline: <title>
    Given the member of test case "CP-01" has a registered PeI
    And the C&A answers /perm with <status> once
    When the dashboard calls the view endpoint for the PeI of case "CP-01" without a token
    Then the provider answers 401 with a WWW-Authenticate header carrying as_uri and a ticket issued by the C&A for that PeI
    And the provider retried perm after the failure

    @case:E-PRM-07
    Examples: E-PRM-07
      | title                                                                                                         | status |
      | E-PRM-07 A permission ticket failing once with 500 is retried and the challenge still comes (stub: /perm 500) | 500    |

    @case:E-PRM-08
    Examples: E-PRM-08
      | title                                                                                                         | status |
      | E-PRM-08 A permission ticket failing once with 502 is retried and the challenge still comes (stub: /perm 502) | 502    |

    @case:E-PRM-09
    Examples: E-PRM-09
      | title                                                                                                         | status |
      | E-PRM-09 A permission ticket failing once with 503 is retried and the challenge still comes (stub: /perm 503) | 503    |

    @case:E-PRM-10
    Examples: E-PRM-10
      | title                                                                                                         | status |
      | E-PRM-10 A permission ticket failing once with 504 is retried and the challenge still comes (stub: /perm 504) | 504    |

  Scenario Outline: <title>
    Given the member of test case "CP-01" has a registered PeI
    And the C&A answers /introspect with <answer> from now on
    When the dashboard presents a genuine RPT for the PeI of case "CP-01"
    Then the provider returns no view data
    And the provider called /introspect at most <bound> times

    @case:E-INT-01
    Examples: E-INT-01
      | title                                                                                                                         | answer                    | bound |
      | E-INT-01 An introspection refused with 400 incorrect signature gives no view data (stub: /introspect 400 incorrect signature) | 400 "incorrect signature" | 1     |

    @case:E-INT-03
    Examples: E-INT-03
      | title                                                                                                                   | answer                   | bound |
      | E-INT-03 An introspection refused with 404 resource not found is not retried (stub: /introspect 404 resource not found) | 404 "resource not found" | 1     |

    @case:E-INT-04
    Examples: E-INT-04
      | title                                                                                                    | answer | bound |
      | E-INT-04 An introspection answered 500 every time gives no view data and no loop (stub: /introspect 500) | 500    | 10    |

    @case:E-INT-05
    Examples: E-INT-05
      | title                                                                                                    | answer | bound |
      | E-INT-05 An introspection answered 502 every time gives no view data and no loop (stub: /introspect 502) | 502    | 10    |

    @case:E-INT-06
    Examples: E-INT-06
      | title                                                                                                    | answer | bound |
      | E-INT-06 An introspection answered 503 every time gives no view data and no loop (stub: /introspect 503) | 503    | 10    |

    @case:E-INT-07
    Examples: E-INT-07
      | title                                                                                                    | answer | bound |
      | E-INT-07 An introspection answered 504 every time gives no view data and no loop (stub: /introspect 504) | 504    | 10    |

  @case:E-INT-02
  Scenario: E-INT-02 An introspection refused with 401 expired PAT gives no view data unless a fresh PAT's retry succeeds (stub: /introspect 401 expired PAT)
    Given the member of test case "CP-01" has a registered PeI
    And the C&A answers /introspect with 401 "expired PAT" once
    When the dashboard presents a genuine RPT for the PeI of case "CP-01"
    Then the provider returns no view data unless its retry of /introspect succeeded
    And the provider called /introspect at most 2 times

  Scenario Outline: <title>
    Given the member of test case "CP-01" has a registered PeI
    And the C&A answers /introspect with <status> once
    When the dashboard requests the view data of each registered PeI through the UMA flow
    Then each view response is a valid view data token signed by the provider
    And the provider retried introspect after the failure

    @case:E-INT-08
    Examples: E-INT-08
      | title                                                                                                       | status |
      | E-INT-08 An introspection failing once with 500 is retried and the view still works (stub: /introspect 500) | 500    |

    @case:E-INT-09
    Examples: E-INT-09
      | title                                                                                                       | status |
      | E-INT-09 An introspection failing once with 502 is retried and the view still works (stub: /introspect 502) | 502    |

    @case:E-INT-10
    Examples: E-INT-10
      | title                                                                                                       | status |
      | E-INT-10 An introspection failing once with 503 is retried and the view still works (stub: /introspect 503) | 503    |

    @case:E-INT-11
    Examples: E-INT-11
      | title                                                                                                       | status |
      | E-INT-11 An introspection failing once with 504 is retried and the view still works (stub: /introspect 504) | 504    |

  Scenario Outline: <title>
    Given the member of test case "CP-01" has a registered PeI
    And the C&A's introspection results <result> from now on
    When the dashboard presents a genuine RPT for the PeI of case "CP-01"
    Then the provider returns no view data

    @case:E-RPT-01
    Examples: E-RPT-01
      | title                                                                                                                              | result                                    |
      | E-RPT-01 An RPT introspected as token type pension_dashboard_pmt is refused (stub: introspection token_type pension_dashboard_pmt) | name the token type pension_dashboard_pmt |

    @case:E-RPT-02
    Examples: E-RPT-02
      | title                                                                                                  | result               |
      | E-RPT-02 An RPT introspected with empty permissions is refused (stub: introspection empty permissions) | carry no permissions |

    @case:E-RPT-03
    Examples: E-RPT-03
      | title                                                                                                        | result               |
      | E-RPT-03 An RPT introspected with scopes without owner is refused (stub: introspection scopes without owner) | grant no owner scope |

    @case:E-RPT-04
    Examples: E-RPT-04
      | title                                                                                                                     | result                          |
      | E-RPT-04 An RPT introspected as active with exp in the past is refused (stub: introspection active true, exp in the past) | are active with exp in the past |

    @case:E-RPT-05
    Examples: E-RPT-05
      | title                                                                                                                        | result                               |
      | E-RPT-05 An RPT introspected with a permission whose exp is past is refused (stub: introspection permission exp in the past) | carry a permission whose exp is past |

    @case:E-RPT-06
    Examples: E-RPT-06
      | title                                                                                               | result           |
      | E-RPT-06 An expired RPT (introspected as active false) is refused (stub: expired RPT, active false) | say active false |

  @case:E-RPT-07
  Scenario: E-RPT-07 An RPT the C&A does not know (404) is refused (stub: unknown RPT, /introspect 404)
    Given the member of test case "CP-01" has a registered PeI
    And the C&A answers /introspect with 404 "unknown RPT" from now on
    When the dashboard presents a genuine RPT for the PeI of case "CP-01"
    Then the provider returns no view data
    And the provider called /introspect at most 1 time

  Scenario Outline: <title>
    Given the member of test case "CP-01" has a registered PeI
    When the dashboard presents a genuine RPT for the PeI of case "CP-01" <request>
    Then the provider answers <status> and returns no view data

    @case:E-VIEW-01
    Examples: E-VIEW-01
      | title                                                                                                                  | request                      | status |
      | E-VIEW-01 A view request with an invalid X-Request-ID is refused with 400 (stub: MaPS emulator: bad X-Request-ID, 400) | with an invalid X-Request-ID | 400    |

    @case:E-VIEW-02
    Examples: E-VIEW-02
      | title                                                                                                                       | request                             | status |
      | E-VIEW-02 A view request for an asset GUID that is not a GUID is refused with 400 (stub: MaPS emulator: bad assetGuid, 400) | at an asset GUID that is not a GUID | 400    |

    @case:E-VIEW-03
    Examples: E-VIEW-03
      | title                                                                                                                  | request            | status |
      | E-VIEW-03 A view request with a scope other than owner is refused with 400 (stub: MaPS emulator: scope not owner, 400) | with scope "value" | 400    |

    @case:E-VIEW-04
    Examples: E-VIEW-04
      | title                                                                                                       | request                  | status |
      | E-VIEW-04 A view request for an unknown asset is refused with 404 (stub: MaPS emulator: unknown asset, 404) | at an unknown asset GUID | 404    |

  # Stage 2's match updates meeting C&A errors: a registration is set up, the fault armed, and
  # one of the test pack's updates applied (U-01 confirms S1-05's possible match with a PATCH,
  # U-04 withdraws S1-04's match with a DELETE). On your solution these need the target file's
  # [updates] command and are reported not applicable without one.

  @case:E-UPD-01 @needs-updates
  Scenario: E-UPD-01 A match confirmation refused with 401 expired PAT is retried with a fresh PAT and applied (stub: /rreguri PATCH 401 expired PAT)
    Given the member of test case "S1-05" has a registered PeI
    And the C&A answers PATCH /rreguri with 401 "expired PAT" once
    When match update "U-01" is applied while the fault is armed
    Then the C&A shows match update "U-01" applied within the update limit
    And the provider obtained a fresh PAT and retried PATCH /rreguri with it

  @case:E-UPD-02 @needs-updates
  Scenario: E-UPD-02 A match confirmation refused with 404 resource not found is not retried and changes nothing (stub: /rreguri PATCH 404 resource not found)
    Given the member of test case "S1-05" has a registered PeI
    And the C&A answers PATCH /rreguri with 404 "resource not found" from now on
    When match update "U-01" is applied while the fault is armed
    Then the provider called PATCH /rreguri exactly 1 time
    And the C&A still holds the PeI of match update "U-01" unchanged

  @case:E-UPD-03 @needs-updates
  Scenario: E-UPD-03 A match confirmation answered 429 twice is retried honouring Retry-After and applied (stub: /rreguri PATCH 429)
    Given the member of test case "S1-05" has a registered PeI
    And the C&A answers PATCH /rreguri with 429 "too many requests" and Retry-After 1 for the next 2 calls
    When match update "U-01" is applied while the fault is armed
    Then the C&A shows match update "U-01" applied within the update limit
    And the provider retried rreguri until it succeeded, waiting at least 1 seconds between attempts

  @needs-updates
  Scenario Outline: <title>
    Given the member of test case "S1-05" has a registered PeI
    And the C&A answers PATCH /rreguri with <status> for the next 2 calls
    When match update "U-01" is applied while the fault is armed
    Then the C&A shows match update "U-01" applied within the update limit
    And the provider retried rreguri after the failure

    @case:E-UPD-04
    Examples: E-UPD-04
      | title                                                                                                  | status |
      | E-UPD-04 A match confirmation failing twice with 500 is retried and applied (stub: /rreguri PATCH 500) | 500    |

    @case:E-UPD-05
    Examples: E-UPD-05
      | title                                                                                                  | status |
      | E-UPD-05 A match confirmation failing twice with 502 is retried and applied (stub: /rreguri PATCH 502) | 502    |

    @case:E-UPD-06
    Examples: E-UPD-06
      | title                                                                                                  | status |
      | E-UPD-06 A match confirmation failing twice with 503 is retried and applied (stub: /rreguri PATCH 503) | 503    |

    @case:E-UPD-07
    Examples: E-UPD-07
      | title                                                                                                  | status |
      | E-UPD-07 A match confirmation failing twice with 504 is retried and applied (stub: /rreguri PATCH 504) | 504    |

  @case:E-UPD-08 @needs-updates
  Scenario: E-UPD-08 A match withdrawal refused with 401 expired PAT is retried with a fresh PAT and applied (stub: /rreguri DELETE 401 expired PAT)
    Given the member of test case "S1-04" has a registered PeI
    And the C&A answers DELETE /rreguri with 401 "expired PAT" once
    When match update "U-04" is applied while the fault is armed
    Then the C&A shows match update "U-04" applied within the update limit
    And the provider obtained a fresh PAT and retried DELETE /rreguri with it

  @case:E-UPD-09 @needs-updates
  Scenario: E-UPD-09 A match withdrawal refused with 404 resource not found is not retried and changes nothing (stub: none seeded; /rreguri DELETE 404 resource not found, as PATCH's)
    Given the member of test case "S1-04" has a registered PeI
    And the C&A answers DELETE /rreguri with 404 "resource not found" from now on
    When match update "U-04" is applied while the fault is armed
    Then the provider called DELETE /rreguri exactly 1 time
    And the C&A still holds the PeI of match update "U-04" unchanged

  @case:E-UPD-10 @needs-updates
  Scenario: E-UPD-10 A match withdrawal answered 429 twice is retried honouring Retry-After and applied (stub: /rreguri DELETE 429)
    Given the member of test case "S1-04" has a registered PeI
    And the C&A answers DELETE /rreguri with 429 "too many requests" and Retry-After 1 for the next 2 calls
    When match update "U-04" is applied while the fault is armed
    Then the C&A shows match update "U-04" applied within the update limit
    And the provider retried rreguri until it succeeded, waiting at least 1 seconds between attempts

  @needs-updates
  Scenario Outline: <title>
    Given the member of test case "S1-04" has a registered PeI
    And the C&A answers DELETE /rreguri with <status> for the next 2 calls
    When match update "U-04" is applied while the fault is armed
    Then the C&A shows match update "U-04" applied within the update limit
    And the provider retried rreguri after the failure

    @case:E-UPD-11
    Examples: E-UPD-11
      | title                                                                                                 | status |
      | E-UPD-11 A match withdrawal failing twice with 500 is retried and applied (stub: /rreguri DELETE 500) | 500    |

    @case:E-UPD-12
    Examples: E-UPD-12
      | title                                                                                                 | status |
      | E-UPD-12 A match withdrawal failing twice with 502 is retried and applied (stub: /rreguri DELETE 502) | 502    |

    @case:E-UPD-13
    Examples: E-UPD-13
      | title                                                                                                 | status |
      | E-UPD-13 A match withdrawal failing twice with 503 is retried and applied (stub: /rreguri DELETE 503) | 503    |

    @case:E-UPD-14
    Examples: E-UPD-14
      | title                                                                                                 | status |
      | E-UPD-14 A match withdrawal failing twice with 504 is retried and applied (stub: /rreguri DELETE 504) | 504    |
