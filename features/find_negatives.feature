@stage1 @serial
Feature: Find negatives - forged and malformed find requests are refused
  A provider must register only what a genuine find from the CDA asks for. Each scenario sends
  the find of a member who matches (test case S1-01's persona), forged or malformed in one way,
  and expects the provider to refuse it with a 4xx and to register nothing (watched as for a
  find that matches nothing, and by the run's registration audit). Each first clears the test
  data down, so a lenient provider's registration cannot hide behind an earlier one; stage 1's
  own scenarios, which run after these, start from that cleared-down state.
  Test data: testpacks/integration/pack.toml.

  Background:
    Given the provider's test data has been cleared down

  Scenario Outline: <title>
    When the pension finder sends a find request for the member of test case "S1-01" with <forgery>
    Then the provider refuses the find request with a 4xx status
    And no PeI is registered for the refused find request

    @case:FN-01
    Examples: bad signature
      | title                                          | forgery                             |
      | A find token with a bad signature is refused    | a find token with a bad signature   |

    @case:FN-02
    Examples: expired token
      | title                                          | forgery                             |
      | An expired find token is refused               | an expired find token               |

    @case:FN-03
    Examples: wrong issuer
      | title                                          | forgery                             |
      | A find token from the wrong issuer is refused  | a find token from the wrong issuer  |

    @case:FN-04
    Examples: wrong audience
      | title                                          | forgery                             |
      | A find token for the wrong audience is refused | a find token for the wrong audience |

    @case:FN-05
    Examples: no request id
      | title                                          | forgery                             |
      | A find without an X-Request-ID is refused      | no X-Request-ID                     |

    @case:FN-06
    Examples: malformed request id
      | title                                          | forgery                             |
      | A find with a malformed X-Request-ID is refused | a malformed X-Request-ID           |
