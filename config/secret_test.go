package config

import "testing"

func TestMaskKeyID(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"LTAI5tAbCdEfGhIjKlMn", "LTAI*************lMn"},
		{"AKIAIOSFODNN7EXAMPLE", "AKIA*************PLE"},
		{"esatestroot", "esat****oot"},
		{"LTAIabcde", "LTAI**cde"},
		{"12345678", "********"},
		{"short", "*****"},
		{"", ""},
		{"ключ-доступа-1", "ключ*******а-1"},
	} {
		if got := MaskKeyID(tc.id); got != tc.want {
			t.Errorf("MaskKeyID(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
}
