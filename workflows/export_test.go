package workflows

// Trail is trail, for the external tests.
var Trail = trail
