package onespan

// ToPixels converts PDF points to the pixels a field is placed in.
var ToPixels = toPixels
