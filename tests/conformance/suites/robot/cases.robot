*** Test Cases ***
Adds Numbers
    Should Be Equal As Integers    ${2}    2

Compares Strings
    Should Be Equal    expected    actual

Fails With A Long Message
    Fail    Connection to the database at 10.0.0.5:5432 timed out after 30 seconds

Skipped Case
    Skip    not on this platform
