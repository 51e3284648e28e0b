package activities

// WrapForTest exposes wrap to the package's external tests.
var WrapForTest = wrap
