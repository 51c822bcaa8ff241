#pragma once
/// Describing a message or state type once, next to its definition.
///
/// Example:
///   enum class HeaterMode : std::uint8_t { off, on, boost };
///   STATEBUS_ENUM(HeaterMode, off, on, boost);
///
///   struct HeaterCommand {
///     HeaterMode mode;
///     float power_watts;
///     char reason[32];
///   };
///   STATEBUS_MESSAGE(HeaterCommand, "home/HeaterCommand", mode, power_watts, reason);
///
///   const statebus::Schema& schema = statebus::schema_of<HeaterCommand>();
///
/// Fields may be bool, integers, float, double, enums, char arrays (text),
/// arrays (C arrays or std::array) of any of these, and nested described
/// structs. Use the macros in the namespace of the type. Up to 32 fields.
///
/// What a field means (its valid range, step, unit, kind of quantity, or
/// that it is a counter) is declared once, beside the description, and
/// travels in the schema (statebus::FieldInfo):
///   STATEBUS_FIELD_INFO(Setpoint,
///       statebus::field(&Setpoint::celsius).range(5, 30).step(0.5).unit("°C").quantity("temperature"),
///       statebus::field(&Setpoint::band).range(0.1, 5).unit("K"));
/// Every writer then refuses a value outside the range (Cell::store, the
/// CLI, the MQTT bridge's inbound values, Schema::assign/parse_json/apply_json).

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "statebus/base/schema.hpp"

// ---- the macros -------------------------------------------------------------

#define STATEBUS_DETAIL_EXPAND(x) x
#define STATEBUS_DETAIL_FE_1(m, t, x) m(t, x)
#define STATEBUS_DETAIL_FE_2(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_1(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_3(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_2(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_4(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_3(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_5(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_4(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_6(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_5(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_7(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_6(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_8(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_7(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_9(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_8(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_10(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_9(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_11(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_10(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_12(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_11(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_13(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_12(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_14(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_13(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_15(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_14(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_16(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_15(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_17(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_16(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_18(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_17(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_19(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_18(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_20(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_19(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_21(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_20(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_22(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_21(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_23(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_22(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_24(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_23(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_25(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_24(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_26(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_25(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_27(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_26(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_28(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_27(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_29(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_28(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_30(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_29(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_31(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_30(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_32(m, t, x, ...) m(t, x) STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_31(m, t, __VA_ARGS__))
#define STATEBUS_DETAIL_FE_PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, _18, \
                                _19, _20, _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32, NAME, ...)   \
  NAME
#define STATEBUS_DETAIL_FOR_EACH(m, t, ...)                                                                            \
  STATEBUS_DETAIL_EXPAND(STATEBUS_DETAIL_FE_PICK(                                                                      \
      __VA_ARGS__, STATEBUS_DETAIL_FE_32, STATEBUS_DETAIL_FE_31, STATEBUS_DETAIL_FE_30, STATEBUS_DETAIL_FE_29,         \
      STATEBUS_DETAIL_FE_28, STATEBUS_DETAIL_FE_27, STATEBUS_DETAIL_FE_26, STATEBUS_DETAIL_FE_25,                      \
      STATEBUS_DETAIL_FE_24, STATEBUS_DETAIL_FE_23, STATEBUS_DETAIL_FE_22, STATEBUS_DETAIL_FE_21,                      \
      STATEBUS_DETAIL_FE_20, STATEBUS_DETAIL_FE_19, STATEBUS_DETAIL_FE_18, STATEBUS_DETAIL_FE_17,                      \
      STATEBUS_DETAIL_FE_16, STATEBUS_DETAIL_FE_15, STATEBUS_DETAIL_FE_14, STATEBUS_DETAIL_FE_13,                      \
      STATEBUS_DETAIL_FE_12, STATEBUS_DETAIL_FE_11, STATEBUS_DETAIL_FE_10, STATEBUS_DETAIL_FE_9, STATEBUS_DETAIL_FE_8, \
      STATEBUS_DETAIL_FE_7, STATEBUS_DETAIL_FE_6, STATEBUS_DETAIL_FE_5, STATEBUS_DETAIL_FE_4, STATEBUS_DETAIL_FE_3,    \
      STATEBUS_DETAIL_FE_2, STATEBUS_DETAIL_FE_1, unused)(m, t, __VA_ARGS__))

#define STATEBUS_DETAIL_VISIT_FIELD(Type, field) visit(#field, &Type::field);
#define STATEBUS_DETAIL_ENUMERATOR(Type, value) {static_cast<std::int64_t>(Type::value), #value},

/// Describes a trivially copyable struct: its type name (as tools show it)
/// and its fields, in any order. Use in the namespace of `Type`.
#define STATEBUS_MESSAGE(Type, TypeName, ...)                                                    \
  [[maybe_unused]] inline const char* statebus_type_name(const Type*) { return TypeName; }      \
  template <class Visitor>                                                                       \
  void statebus_visit_fields(const Type*, Visitor&& visit) {                                     \
    static_assert(std::is_trivially_copyable_v<Type>, #Type " must be trivially copyable");     \
    STATEBUS_DETAIL_FOR_EACH(STATEBUS_DETAIL_VISIT_FIELD, Type, __VA_ARGS__)                     \
  }                                                                                              \
  static_assert(true, "")

/// Names the values of an enum, so that tools print `heat` instead of `1`.
/// Optional: an enum without names is shown as its number.
#define STATEBUS_ENUM(Type, ...)                                                                     \
  [[maybe_unused]] inline const char* statebus_enum_type_name(const Type*) { return #Type; }        \
  [[maybe_unused]] inline std::vector<std::pair<std::int64_t, std::string>> statebus_enum_names(   \
      const Type*) {                                                                                 \
    return {STATEBUS_DETAIL_FOR_EACH(STATEBUS_DETAIL_ENUMERATOR, Type, __VA_ARGS__)};               \
  }                                                                                                  \
  static_assert(true, "")

/// Declares what fields of `Type` mean: a list of statebus::field(&Type::member)
/// declarations (see above). Optional; use in the namespace of the type.
#define STATEBUS_FIELD_INFO(Type, ...)                                                                   \
  [[maybe_unused]] inline std::vector<::statebus::detail::DeclaredField> statebus_field_info(const Type*) { \
    return {__VA_ARGS__};                                                                                 \
  }                                                                                                       \
  static_assert(true, "")

namespace statebus {
namespace detail {

/// One STATEBUS_FIELD_INFO entry: the field (by offset in its struct) and its info.
struct DeclaredField {
  std::uint32_t offset = 0;
  FieldInfo info;
};

/// The offset of `member` in T, from a never-read object in static storage.
template <class T, class M>
std::uint32_t member_offset(M T::*member) {
  union Storage {
    char none;
    T value;
    Storage() : none() {}
  };
  static Storage storage;
  return static_cast<std::uint32_t>(reinterpret_cast<const unsigned char*>(&(storage.value.*member)) -
                                    reinterpret_cast<const unsigned char*>(&storage.value));
}

template <class M>
struct element_of {
  using type = M;
};
template <class E, std::size_t N>
struct element_of<E[N]> {
  using type = E;
};
template <class E, std::size_t N>
struct element_of<std::array<E, N>> {
  using type = E;
};

}  // namespace detail

/// What one field means, built by statebus::field() for STATEBUS_FIELD_INFO.
/// A range, step or counter only compiles for number fields (or arrays of
/// numbers: each element is checked).
template <class M>
class FieldDeclaration {
  using Element = std::remove_cv_t<typename detail::element_of<M>::type>;
  static constexpr bool kNumber =
      std::is_arithmetic_v<Element> && !std::is_same_v<Element, bool> && !std::is_same_v<Element, char>;

 public:
  explicit FieldDeclaration(std::uint32_t offset) { field_.offset = offset; }
  /// The valid values, both ends included.
  [[nodiscard]] FieldDeclaration range(double min, double max) const {
    static_assert(kNumber, "a range needs a number field");
    return with([&](FieldInfo& i) { i.min = min, i.max = max; });
  }
  [[nodiscard]] FieldDeclaration min(double value) const {
    static_assert(kNumber, "a minimum needs a number field");
    return with([&](FieldInfo& i) { i.min = value; });
  }
  [[nodiscard]] FieldDeclaration max(double value) const {
    static_assert(kNumber, "a maximum needs a number field");
    return with([&](FieldInfo& i) { i.max = value; });
  }
  /// The increment a user interface offers (Home Assistant's number step).
  [[nodiscard]] FieldDeclaration step(double value) const {
    static_assert(kNumber, "a step needs a number field");
    return with([&](FieldInfo& i) { i.step = value; });
  }
  /// A total that only grows (a count of events): Home Assistant's total_increasing.
  [[nodiscard]] FieldDeclaration counter() const {
    static_assert(kNumber, "a counter is a number field");
    return with([&](FieldInfo& i) { i.counter = true; });
  }
  [[nodiscard]] FieldDeclaration unit(std::string text) const {
    return with([&](FieldInfo& i) { i.unit = std::move(text); });
  }
  /// What it measures, in Home Assistant's words: "temperature", "power" …
  [[nodiscard]] FieldDeclaration quantity(std::string text) const {
    return with([&](FieldInfo& i) { i.quantity = std::move(text); });
  }
  [[nodiscard]] FieldDeclaration label(std::string text) const {
    return with([&](FieldInfo& i) { i.label = std::move(text); });
  }
  operator detail::DeclaredField() const { return field_; }  // NOLINT: the macro's list converts

 private:
  template <class Edit>
  FieldDeclaration with(Edit&& edit) const {
    FieldDeclaration copy = *this;
    edit(copy.field_.info);
    return copy;
  }
  detail::DeclaredField field_;
};

/// Starts a declaration of what `member` means (STATEBUS_FIELD_INFO).
template <class T, class M>
FieldDeclaration<M> field(M T::*member) {
  return FieldDeclaration<M>(detail::member_offset(member));
}

namespace detail {

template <class T, class = void>
struct has_field_info : std::false_type {};
template <class T>
struct has_field_info<T, std::void_t<decltype(statebus_field_info(static_cast<const T*>(nullptr)))>>
    : std::true_type {};

template <class T, class = void>
struct is_described : std::false_type {};
template <class T>
struct is_described<T, std::void_t<decltype(statebus_type_name(static_cast<const T*>(nullptr)))>>
    : std::true_type {};

template <class T, class = void>
struct has_enum_names : std::false_type {};
template <class T>
struct has_enum_names<T, std::void_t<decltype(statebus_enum_names(static_cast<const T*>(nullptr)))>>
    : std::true_type {};

template <class T>
struct is_std_array : std::false_type {};
template <class E, std::size_t N>
struct is_std_array<std::array<E, N>> : std::true_type {};

template <class T>
constexpr FieldKind integer_kind() {
  if constexpr (std::is_signed_v<T>) {
    return sizeof(T) == 1   ? FieldKind::int8
           : sizeof(T) == 2 ? FieldKind::int16
           : sizeof(T) == 4 ? FieldKind::int32
                            : FieldKind::int64;
  } else {
    return sizeof(T) == 1   ? FieldKind::uint8
           : sizeof(T) == 2 ? FieldKind::uint16
           : sizeof(T) == 4 ? FieldKind::uint32
                            : FieldKind::uint64;
  }
}

template <class T>
void describe_fields(std::vector<FieldSchema>& out);

/// Fills kind, size, type name, enumerators and nested fields for one value of M.
template <class M>
void describe_value(FieldSchema& field) {
  field.size = sizeof(M);
  if constexpr (std::is_same_v<M, bool>) {
    field.kind = FieldKind::boolean;
  } else if constexpr (std::is_enum_v<M>) {
    field.kind = FieldKind::enumeration;
    field.underlying = integer_kind<std::underlying_type_t<M>>();
    if constexpr (has_enum_names<M>::value) {
      field.type_name = statebus_enum_type_name(static_cast<const M*>(nullptr));
      field.enumerators = statebus_enum_names(static_cast<const M*>(nullptr));
    }
  } else if constexpr (std::is_integral_v<M>) {
    static_assert(sizeof(M) <= 8, "integers up to 64 bits");
    field.kind = integer_kind<M>();
  } else if constexpr (std::is_same_v<M, float>) {
    field.kind = FieldKind::float32;
  } else if constexpr (std::is_same_v<M, double>) {
    field.kind = FieldKind::float64;
  } else if constexpr (is_described<M>::value) {
    field.kind = FieldKind::structure;
    field.type_name = statebus_type_name(static_cast<const M*>(nullptr));
    describe_fields<M>(field.fields);
  } else {
    static_assert(is_described<M>::value,
                  "field type not supported: use bool, integers, float, double, enums, char arrays, arrays, or a "
                  "struct described with STATEBUS_MESSAGE");
  }
}

template <class M>
void describe_member(FieldSchema& field) {
  if constexpr (std::is_array_v<M> && std::is_same_v<std::remove_cv_t<std::remove_extent_t<M>>, char>) {
    field.kind = FieldKind::text;
    field.size = sizeof(M);
  } else if constexpr (std::is_array_v<M>) {
    using E = std::remove_extent_t<M>;
    static_assert(!std::is_array_v<E> && !is_std_array<E>::value, "arrays of arrays are not supported");
    field.count = static_cast<std::uint32_t>(std::extent_v<M>);
    describe_value<E>(field);
  } else if constexpr (is_std_array<M>::value) {
    using E = typename M::value_type;
    static_assert(!std::is_array_v<E> && !is_std_array<E>::value, "arrays of arrays are not supported");
    field.count = static_cast<std::uint32_t>(std::tuple_size<M>::value);
    describe_value<E>(field);
  } else {
    describe_value<M>(field);
  }
}

template <class T>
void describe_fields(std::vector<FieldSchema>& out) {
  // Offsets from a never-read object in static storage.
  union Storage {
    char none;
    T value;
    Storage() : none() {}
  };
  static Storage storage;
  const auto* base = reinterpret_cast<const unsigned char*>(&storage.value);
  statebus_visit_fields(static_cast<const T*>(nullptr), [&](const char* name, auto member) {
    using M = std::remove_reference_t<decltype(storage.value.*member)>;
    FieldSchema field;
    field.name = name;
    field.offset = static_cast<std::uint32_t>(reinterpret_cast<const unsigned char*>(&(storage.value.*member)) - base);
    describe_member<std::remove_cv_t<M>>(field);
    out.push_back(std::move(field));
  });
  if constexpr (has_field_info<T>::value) {
    for (DeclaredField& declared : statebus_field_info(static_cast<const T*>(nullptr))) {
      FieldSchema* target = nullptr;
      for (FieldSchema& f : out) target = f.offset == declared.offset ? &f : target;
      if (target == nullptr) {  // a definition error of the program, found at its first use of the type
        std::fprintf(stderr, "statebus: STATEBUS_FIELD_INFO(%s, …) names a field STATEBUS_MESSAGE does not list\n",
                     statebus_type_name(static_cast<const T*>(nullptr)));
        std::abort();
      }
      target->info = std::move(declared.info);
    }
  }
}

template <class T>
Schema build_schema() {
  Schema schema;
  schema.name = statebus_type_name(static_cast<const T*>(nullptr));
  schema.size = static_cast<std::uint32_t>(sizeof(T));
  schema.alignment = static_cast<std::uint32_t>(alignof(T));
  describe_fields<T>(schema.fields);
  schema.fingerprint = compute_fingerprint(schema);
  return schema;
}

}  // namespace detail

/// True if T was described with STATEBUS_MESSAGE.
template <class T>
inline constexpr bool is_described_v = detail::is_described<T>::value;

/// The schema of a described type, built once. Thread-safe.
template <class T>
const Schema& schema_of() {
  static_assert(is_described_v<T>, "describe the type with STATEBUS_MESSAGE(Type, \"name\", fields...)");
  static const Schema schema = detail::build_schema<T>();
  return schema;
}

}  // namespace statebus
