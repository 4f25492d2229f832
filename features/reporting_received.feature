@reporting-received
Feature: Reporting received - what the organisation's own reporting client submitted today
  Many organisations submit reporting data from their own software. `pdp-harness serve` with a
  [reporting_simulator] section runs the reporting API for that software over mutual TLS (the
  organisation's client CA), checks every body against the reporting API specification (v2.1),
  answers as the API does, and keeps every request it received in a journal beside the target
  file. This pack judges that journal as PDP's pipeline does: only the current UTC calendar day
  counts, each of the six endpoints needs an accepted, valid submission, every refusal is named
  with its code, and null submissions only where the specification has them.
  Run with: pdp-harness run --pack reporting-received --target FILE

  Background:
    Given what serve's reporting simulator received today (UTC) is read from its journal

  @case:<case>
  Scenario Outline: <endpoint> received an accepted, valid submission today
    Then "<endpoint>" received an accepted, valid submission that day

    Examples:
      | case  | endpoint                      |
      | RR-01 | /service-availability/find    |
      | RR-02 | /service-availability/view    |
      | RR-03 | /view-response/request-number |
      | RR-04 | /view-response/response-time  |
      | RR-05 | /view-response/calculations   |
      | RR-06 | /view-response/unavailable    |

  @case:RR-07
  Scenario: Every request received today was valid
    Then every request received that day was valid

  @case:RR-08
  Scenario: Null submissions were sent only where the specification has one
    Then null submissions were received only where the specification has one

  @case:RR-09
  Scenario: All six endpoints were submitted within one UTC calendar day
    Then all six endpoints received accepted submissions within that one UTC calendar day
