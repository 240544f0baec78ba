// Package conf loads faed's YAML configuration into a typed, validated
// [Config] with documented defaults. Errors name the field path and the fix.
package conf
