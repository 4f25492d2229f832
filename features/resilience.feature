@resilience
Feature: Resilience - the provider retries, backs off and recovers
  The simulated C&A answers some calls with errors, as the real one may under load or during an
  incident. A provider must retry 429 and 5xx with backoff, honour Retry-After, and recover
  without losing the registration or the view. Run with: pdp-harness run --pack resilience

  Background:
    Given the provider's test data has been cleared down

  @case:R-01
  Scenario: Registration is retried after 429 Too Many Requests, honouring Retry-After
    Given the C&A answers rreguri with 429 and Retry-After 1 for the next 2 calls
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And exactly the PeIs expected by the test pack are registered within the registration limit
    And the provider retried rreguri until it succeeded, waiting at least 1 seconds between attempts

  @case:R-02
  Scenario: A PAT request that fails once with 503 is retried
    Given token requests fail with 503 once
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    And exactly the PeIs expected by the test pack are registered within the registration limit
    And the provider retried token after the failure

  @case:R-03
  Scenario: Permission ticket and introspection errors are retried and the view still works
    Given the member of test case "CP-01" has a registered PeI
    And perm requests fail with 500 for the next 2 calls
    And introspect requests fail with 503 once
    When the dashboard requests the view data of each registered PeI through the UMA flow
    Then each view response is a valid view data token signed by the provider
    And the provider retried perm after the failure
    And the provider retried introspect after the failure
