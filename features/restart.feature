@resilience @errors @needs-restart
Feature: Restart - no acknowledged find is lost
  PDP's code of connection asks a provider to restore its service without losing data it has
  acknowledged: a 202 to a find request is a promise to register its matches. The provider is
  restarted after it acknowledged a find and before it registered the match (the C&A holds the
  registration back with a 503 and Retry-After); the match must still be registered in time.
  Against your solution this runs only when the target file names a [provider] restart command.

  Background:
    Given the provider's test data has been cleared down

  @case:E-RST-01
  Scenario: A find acknowledged before a restart is still registered after it
    Given the C&A answers token with 503 and Retry-After 3 for the next 1 calls
    When the pension finder sends a find request for the member of test case "CP-01"
    Then the provider acknowledges the find request with 202 within the acknowledgement limit
    When the provider is restarted before it has registered the find's matches
    Then exactly the PeIs expected by the test pack are registered within the registration limit
    And every registration has the match status the test pack expects, the scheme name as description and the find request's X-Request-ID as inbound_request_id
